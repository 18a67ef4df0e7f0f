#!/usr/bin/env python3
"""Writes tests/reference/kquant_vectors.txt: what llama.cpp's own quantizers and dot
products make of a few float rows, so that our quantizers can be required to be
byte-identical to llama.cpp's and our dot products close to its CPU backend's.

Usage: make_kquant_vectors.py [--lib-dir DIR] [--model FILE] [--out FILE] [--seed N]

llama.cpp is reached through the shared libraries that the llama-cpp-python package
(PyPI) ships: libggml-base (the reference quantizers, ggml_quantize_chunk and
quantize_row_q8_{1,K}_ref) and libggml-cpu (ggml_get_type_traits_cpu: the activation
quantizers and dot products the CPU backend really uses). By default they are looked up in
the llama_cpp package of /root/.cache/natter/venv. The script itself runs with any python
that has numpy and gguf (used to read rows out of the SmolLM2 model).

Rows: three rows of SmolLM2-135M's ffn_down (dequantized from its Q4_1 file, 1536 wide)
and four synthetic rows of the same width (weight-like normals with an all-zero and a
constant super-block, heavy-tailed values, positive uniform values, and exact rounding
ties, where llama.cpp's reference and CPU-backend activation quantizers differ).

Line format (hex as in quant_vectors.txt, floats as little-endian float32 bits):
  row NAME FLOATS                      an input row; rows are numbered from 0 in file order
  quant TYPE ROW BYTES                 llama.cpp's reference quantization of that row
  activation TYPE ROW BYTES            the CPU backend's activation quantization (from_float)
  dot WEIGHT_TYPE WROW AROW RESULT     CPU backend vec_dot of quant(WROW) with activation(AROW)
"""
import argparse
import ctypes
import glob
import sys
from pathlib import Path

import numpy as np

TYPES = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q8_1": 9, "Q2_K": 10,
         "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "Q8_K": 15}
BLOCK = {name: (256 if name.endswith("_K") else 32) for name in TYPES}
TYPE_SIZE = {"Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "Q8_0": 34, "Q8_1": 36,
             "Q2_K": 84, "Q3_K": 110, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "Q8_K": 292}
CHUNK_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
ACTIVATION_TYPES = ["Q8_0", "Q8_1", "Q8_K"]
WIDTH = 1536


class CpuTraits(ctypes.Structure):
    _fields_ = [("from_float", ctypes.c_void_p), ("vec_dot", ctypes.c_void_p),
                ("vec_dot_type", ctypes.c_int), ("nrows", ctypes.c_int64)]


FROM_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
VEC_DOT = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


class Ggml:
    def __init__(self, lib_dir: Path):
        self.base = ctypes.CDLL(str(lib_dir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu = ctypes.CDLL(str(lib_dir / "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu.ggml_cpu_init()
        self.base.ggml_quantize_chunk.restype = ctypes.c_size_t
        self.base.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                                  ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        self.cpu.ggml_get_type_traits_cpu.restype = ctypes.POINTER(CpuTraits)
        for name in ("quantize_row_q8_1_ref", "quantize_row_q8_K_ref"):
            getattr(self.base, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]

    def quantize(self, name: str, row: np.ndarray) -> bytes:
        out = np.zeros(len(row) // BLOCK[name] * TYPE_SIZE[name], dtype=np.uint8)
        src = np.ascontiguousarray(row, dtype=np.float32)
        if name in CHUNK_TYPES:  # exactly what llama.cpp's quantize does without an imatrix
            size = self.base.ggml_quantize_chunk(TYPES[name], src.ctypes.data, out.ctypes.data, 0, 1, len(row), None)
            assert size == out.size
        else:
            getattr(self.base, f"quantize_row_{name.lower().replace('_k', '_K')}_ref")(src.ctypes.data, out.ctypes.data, len(row))
        return out.tobytes()

    def traits(self, name: str) -> CpuTraits:
        return self.cpu.ggml_get_type_traits_cpu(TYPES[name]).contents

    def activation(self, name: str, row: np.ndarray) -> bytes:
        out = np.zeros(len(row) // BLOCK[name] * TYPE_SIZE[name], dtype=np.uint8)
        src = np.ascontiguousarray(row, dtype=np.float32)
        FROM_FLOAT(self.traits(name).from_float)(src.ctypes.data, out.ctypes.data, len(row))
        return out.tobytes()

    def vec_dot(self, name: str, weights: bytes, activations: bytes) -> float:
        traits = self.traits(name)
        assert traits.nrows == 1
        w = np.frombuffer(weights, dtype=np.uint8).copy()
        a = np.frombuffer(activations, dtype=np.uint8).copy()
        result = ctypes.c_float(0)
        VEC_DOT(traits.vec_dot)(WIDTH, ctypes.byref(result), 0, w.ctypes.data, 0, a.ctypes.data, 0, 1)
        return result.value

    def vec_dot_type(self, name: str) -> str:
        number = self.traits(name).vec_dot_type
        return next(k for k, v in TYPES.items() if v == number)


def model_rows(model: Path) -> list[tuple[str, np.ndarray]]:
    from gguf import GGUFReader
    from gguf.quants import dequantize
    reader = GGUFReader(str(model))
    tensors = {t.name: t for t in reader.tensors}
    rows = []
    for layer, index in ((0, 7), (14, 300), (29, 575)):
        tensor = tensors[f"blk.{layer}.ffn_down.weight"]
        values = dequantize(tensor.data, tensor.tensor_type).reshape(-1, WIDTH)
        rows.append((f"smollm2_blk{layer}_ffn_down_row{index}", values[index].astype(np.float32)))
    return rows


def synthetic_rows(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    normal = (rng.standard_normal(WIDTH) * 0.02).astype(np.float32)
    normal[256:512] = 0.0
    normal[512:768] = -0.03
    heavy = (rng.standard_t(2.0, WIDTH) * 0.01).astype(np.float32)
    positive = rng.random(WIDTH).astype(np.float32) + np.float32(0.25)
    # Every 32-block has max |x| = 127, so d = 1 and the other values k + 0.5 are exact
    # rounding ties: the reference rounds them away from zero, the CPU backend to even.
    ties = (np.arange(WIDTH) % 32 - 16 + 0.5).astype(np.float32)
    ties[::32] = 127.0
    ties[16::64] = -127.0
    return [("normal_with_zero_and_constant_blocks", normal), ("student_t", heavy), ("positive_uniform", positive),
            ("rounding_ties", ties)]


def default_lib_dir() -> Path:
    found = glob.glob("/root/.cache/natter/venv/lib/python*/site-packages/llama_cpp/lib")
    if not found:
        sys.exit("llama_cpp not found in /root/.cache/natter/venv; pass --lib-dir")
    return Path(found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lib-dir", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=Path("/root/.cache/natter/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--out", default=str(Path(__file__).with_name("kquant_vectors.txt")))
    parser.add_argument("--seed", type=int, default=1536)
    args = parser.parse_args()
    ggml = Ggml(args.lib_dir or default_lib_dir())
    rows = model_rows(args.model) + synthetic_rows(np.random.default_rng(args.seed))

    lines = ["# made by tests/reference/make_kquant_vectors.py with llama.cpp's libggml (llama-cpp-python); "
             "see its docstring for the format"]
    for name, row in rows:
        lines.append(f"row {name} {row.tobytes().hex()}")
    quantized = {}
    for qtype in CHUNK_TYPES + ["Q8_1", "Q8_K"]:
        for i, (_, row) in enumerate(rows):
            quantized[qtype, i] = ggml.quantize(qtype, row)
            lines.append(f"quant {qtype} {i} {quantized[qtype, i].hex()}")
    activations = {}
    for qtype in ACTIVATION_TYPES:
        for i, (_, row) in enumerate(rows):
            activations[qtype, i] = ggml.activation(qtype, row)
            lines.append(f"activation {qtype} {i} {activations[qtype, i].hex()}")
    for wtype in CHUNK_TYPES:
        atype = ggml.vec_dot_type(wtype)
        for w, a in ((0, 1), (1, 3), (2, 2), (4, 0), (5, 4)):
            result = ggml.vec_dot(wtype, quantized[wtype, w], activations[atype, a])
            lines.append(f"dot {wtype} {w} {a} {np.float32(result).tobytes().hex()}")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
