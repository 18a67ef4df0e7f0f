#!/usr/bin/env python3
"""Writes tests/reference/simd_vectors.txt: what llama.cpp's x86 CPU backend computes for a
few random matrices and rows, so that natter's AVX2 kernels (quant/simd_avx2_*.cpp) can be
required to give the same float, bit for bit, in each of the summation orders llama.cpp uses:

  single   one activation row: ggml's vec_dot (type traits of libggml-cpu)
  batch    8 activation rows through ggml_mul_mat in a ggml graph: tinyBLAS for F32, F16,
           BF16, Q8_0, Q4_0 and Q5_0, the tiled kernel for the k-quants, vec_dot otherwise
  repacked Q4_0 / Q4_K weights interleaved as llama.cpp's repack buffer does, through
           ggml_gemv_*_8x8 (1 row) and ggml_gemm_*_8x8 (4 rows)
  and ggml_vec_dot_f16, ggml_vec_soft_max_f32, ggml_vec_swiglu_f32 on their own.

Usage: make_simd_vectors.py [--lib-dir DIR] [--out FILE] [--seed N] [--iq]
llama.cpp is reached through the shared libraries of the llama-cpp-python package (0.3.36,
built for this CPU with -march=native); by default those scripts/setup-reference builds. The
results in simd_vectors.txt hold for an x86 CPU with AVX2, FMA and F16C and no AVX-512 (the
machine the engine references were made on).

--iq writes iq_simd_vectors.txt instead: the same lines for the IQ and ternary types (weights
quantized by ggml_quantize_chunk with a random importance matrix where the type takes one;
batch: tiled kernel for the IQ super-blocks, tinyBLAS for IQ4_NL, vec_dot for TQ1_0 / TQ2_0;
repacked: IQ4_NL through ggml_gemv/gemm_iq4_nl_8x8_q8_0). Those kernels have no AVX-512 forms
of their own in this llama.cpp, so a -march=native build on an AVX-512 CPU sums them in the
AVX2 order (VNNI instructions give the same exact integers).

Line format (hex: bytes, or little-endian float32 bit patterns):
  weights TYPE ROWS COLS BYTES         the weight matrix as stored (ROWS rows)
  acts N COLS FLOATS                   N activation rows
  single TYPE FLOATS                   [act row][weight row] results, one row at a time
  batch TYPE FLOATS                    [act row][weight row] results of one 8-row mul_mat
  repacked TYPE N FLOATS               [act row][weight row] results of GEMV (N=1) / GEMM (N=4)
  f16dot N X Y RESULT                  ggml_vec_dot_f16 of two F16 rows
  softmax N X MAX Y SUM                y = ggml_vec_soft_max_f32(x, max), SUM as a float64
  swiglu N X G Y                       y = ggml_vec_swiglu_f32(x, g)
"""
import argparse
import ctypes
import struct
import sys
from pathlib import Path

import numpy as np

TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q8_1": 9, "Q2_K": 10,
         "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "Q8_K": 15, "BF16": 30,
         "IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ4_NL": 20, "IQ3_S": 21, "IQ2_S": 22,
         "IQ4_XS": 23, "IQ1_M": 29, "TQ1_0": 34, "TQ2_0": 35}
IQ_TYPES = ["IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S",
            "TQ1_0", "TQ2_0"]
WEIGHT_TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
ROWS, COLS, N_ACTS = 8, 512, 8
DEFAULT_LIB = str(Path.home() / ".cache/natter/llamacpp/build/bin")


class CpuTraits(ctypes.Structure):
    _fields_ = [("from_float", ctypes.c_void_p), ("vec_dot", ctypes.c_void_p),
                ("vec_dot_type", ctypes.c_int), ("nrows", ctypes.c_int64)]


class TypeTraits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64), ("blck_size_interleave", ctypes.c_int64),
                ("type_size", ctypes.c_size_t), ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


class TensorHead(ctypes.Structure):
    """Leading fields of struct ggml_tensor, up to data."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4),
                ("nb", ctypes.c_size_t * 4), ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16),
                ("flags", ctypes.c_int32), ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p),
                ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p)]


FROM_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
VEC_DOT = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
P = ctypes.c_void_p


def hexf(values):
    return np.ascontiguousarray(values, dtype=np.float32).tobytes().hex()


class Ggml:
    def __init__(self, lib_dir):
        self.base = ctypes.CDLL(str(Path(lib_dir) / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu = ctypes.CDLL(str(Path(lib_dir) / "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu.ggml_cpu_init()
        b, c = self.base, self.cpu
        b.ggml_init.restype = P
        b.ggml_init.argtypes = [InitParams]
        b.ggml_new_tensor_2d.restype = P
        b.ggml_new_tensor_2d.argtypes = [P, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        b.ggml_mul_mat.restype = P
        b.ggml_mul_mat.argtypes = [P, P, P]
        b.ggml_new_graph.restype = P
        b.ggml_new_graph.argtypes = [P]
        b.ggml_build_forward_expand.argtypes = [P, P]
        b.ggml_free.argtypes = [P]
        b.ggml_row_size.restype = ctypes.c_size_t
        b.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        b.ggml_quantize_chunk.restype = ctypes.c_size_t
        b.ggml_quantize_chunk.argtypes = [ctypes.c_int, P, P, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, P]
        for name in ("ggml_fp32_to_fp16_row", "ggml_fp32_to_bf16_row"):
            getattr(b, name).argtypes = [P, P, ctypes.c_int64]
        c.ggml_get_type_traits_cpu.restype = ctypes.POINTER(CpuTraits)
        b.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
        c.ggml_graph_compute_with_ctx.argtypes = [P, P, ctypes.c_int]
        for name in ("ggml_gemv_q4_0_8x8_q8_0", "ggml_gemm_q4_0_8x8_q8_0",
                     "ggml_gemv_q4_K_8x8_q8_K", "ggml_gemm_q4_K_8x8_q8_K",
                     "ggml_gemv_iq4_nl_8x8_q8_0", "ggml_gemm_iq4_nl_8x8_q8_0"):
            getattr(c, name).argtypes = [ctypes.c_int, P, ctypes.c_size_t, P, P, ctypes.c_int, ctypes.c_int]
        for name in ("ggml_quantize_mat_q8_0_4x8", "ggml_quantize_mat_q8_K_4x8"):
            getattr(c, name).argtypes = [P, P, ctypes.c_int64]
        c.ggml_vec_dot_f16.argtypes = [ctypes.c_int, P, ctypes.c_size_t, P, ctypes.c_size_t, P, ctypes.c_size_t, ctypes.c_int]
        c.ggml_vec_soft_max_f32.restype = ctypes.c_double
        c.ggml_vec_soft_max_f32.argtypes = [ctypes.c_int, P, P, ctypes.c_float]
        c.ggml_vec_swiglu_f32.argtypes = [ctypes.c_int, P, P, P]

    def store(self, name, rows, imatrix=None):
        """A float matrix in type `name`, as llama.cpp's quantize / conversion writes it."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        n = rows.size
        if name == "F32":
            return rows.tobytes()
        if name in ("F16", "BF16"):
            out = np.zeros(n, dtype=np.uint16)
            fn = self.base.ggml_fp32_to_fp16_row if name == "F16" else self.base.ggml_fp32_to_bf16_row
            fn(rows.ctypes.data, out.ctypes.data, n)
            return out.tobytes()
        out = np.zeros(self.base.ggml_row_size(TYPES[name], rows.shape[1]) * rows.shape[0], dtype=np.uint8)
        qw = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
        self.base.ggml_quantize_chunk(TYPES[name], rows.ctypes.data, out.ctypes.data, 0, rows.shape[0], rows.shape[1],
                                      None if qw is None else qw.ctypes.data)
        return out.tobytes()

    def dequantize(self, name, data):
        """ggml-base's to_float of the whole matrix (what get_rows uses for embeddings)."""
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        out = np.zeros(ROWS * COLS, dtype=np.float32)
        FROM_FLOAT(self.base.ggml_get_type_traits(TYPES[name]).contents.to_float)(buf.ctypes.data, out.ctypes.data,
                                                                                  ROWS * COLS)
        return out

    def traits(self, name):
        return self.cpu.ggml_get_type_traits_cpu(TYPES[name]).contents

    def from_float(self, name, row):
        row = np.ascontiguousarray(row, dtype=np.float32)
        out = np.zeros(self.base.ggml_row_size(TYPES[name], row.size), dtype=np.uint8)
        FROM_FLOAT(self.traits(name).from_float)(row.ctypes.data, out.ctypes.data, row.size)
        return out

    def single(self, name, weights, acts):
        traits = self.traits(name)
        act_type = next(k for k, v in TYPES.items() if v == traits.vec_dot_type)
        row_bytes = len(weights) // ROWS
        w = np.frombuffer(weights, dtype=np.uint8).copy()
        out = np.zeros((len(acts), ROWS), dtype=np.float32)
        for t, act in enumerate(acts):
            a = self.from_float(act_type, act)
            for r in range(ROWS):
                result = ctypes.c_float()
                VEC_DOT(traits.vec_dot)(COLS, ctypes.byref(result), 0, w.ctypes.data + r * row_bytes, 0,
                                        a.ctypes.data, 0, 1)
                out[t, r] = result.value
        return out

    def batch(self, name, weights, acts):
        ctx = self.base.ggml_init(InitParams(64 << 20, None, False))
        a = self.base.ggml_new_tensor_2d(ctx, TYPES[name], COLS, ROWS)
        b = self.base.ggml_new_tensor_2d(ctx, TYPES["F32"], COLS, len(acts))
        ctypes.memmove(TensorHead.from_address(a).data, weights, len(weights))
        x = np.ascontiguousarray(acts, dtype=np.float32)
        ctypes.memmove(TensorHead.from_address(b).data, x.ctypes.data, x.nbytes)
        c = self.base.ggml_mul_mat(ctx, a, b)
        graph = self.base.ggml_new_graph(ctx)
        self.base.ggml_build_forward_expand(graph, c)
        self.cpu.ggml_graph_compute_with_ctx(ctx, graph, 2)
        out = np.ctypeslib.as_array((ctypes.c_float * (ROWS * len(acts))).from_address(TensorHead.from_address(c).data))
        result = out.reshape(len(acts), ROWS).copy()
        self.base.ggml_free(ctx)
        return result

    def repacked(self, name, weights, acts):
        """GEMV (one row) or GEMM (four rows) on the 8 weight rows repacked as llama.cpp does."""
        packed = {"Q4_0": repack_q4_0, "Q4_K": repack_q4_K, "IQ4_NL": repack_iq4_nl}[name](weights)
        act_type = "Q8_K" if name == "Q4_K" else "Q8_0"
        suffix = {"Q4_0": "q4_0_8x8_q8_0", "Q4_K": "q4_K_8x8_q8_K", "IQ4_NL": "iq4_nl_8x8_q8_0"}[name]
        x = np.ascontiguousarray(acts, dtype=np.float32)
        out = np.zeros((len(acts), ROWS), dtype=np.float32)
        w = np.frombuffer(packed, dtype=np.uint8).copy()
        if len(acts) == 1:
            a = self.from_float(act_type, x[0])
            getattr(self.cpu, "ggml_gemv_" + suffix)(COLS, out.ctypes.data, ROWS, w.ctypes.data, a.ctypes.data, 1, ROWS)
        else:
            a = np.zeros(self.base.ggml_row_size(TYPES[act_type], COLS) * 4, dtype=np.uint8)
            getattr(self.cpu, "ggml_quantize_mat_" + act_type.lower().replace("_k", "_K") + "_4x8")(
                x.ctypes.data, a.ctypes.data, COLS)
            getattr(self.cpu, "ggml_gemm_" + suffix)(COLS, out.ctypes.data, ROWS, w.ctypes.data, a.ctypes.data, 4, ROWS)
        return out


def repack_q4_0(weights, xor=0x88):
    """block_q4_0x8: the 8 rows' d, then their quants 8 bytes at a time, nibbles xor 0x88."""
    blocks = np.frombuffer(weights, dtype=np.uint8).reshape(ROWS, COLS // 32, 18)
    out = bytearray()
    for b in range(COLS // 32):
        out += b"".join(blocks[r, b, :2].tobytes() for r in range(8))
        for i in range(16):
            out += (blocks[i % 8, b, 2 + (i // 8) * 8: 2 + (i // 8) * 8 + 8] ^ xor).tobytes()
    return bytes(out)


def repack_iq4_nl(weights):
    """block_iq4_nlx8: as block_q4_0x8 without the xor."""
    return repack_q4_0(weights, xor=0)


def repack_q4_K(weights):
    """block_q4_Kx8: 8 d, 8 dmin, the scales regrouped by sub-block (96 bytes), quants 8 bytes at a time."""
    blocks = np.frombuffer(weights, dtype=np.uint8).reshape(ROWS, COLS // 256, 144)
    out = bytearray()
    for b in range(COLS // 256):
        x = [blocks[r, b] for r in range(8)]
        out += b"".join(x[r][0:2].tobytes() for r in range(8))
        out += b"".join(x[r][2:4].tobytes() for r in range(8))
        sc = [x[r][4:16].astype(np.int32) for r in range(8)]
        scales = bytearray(96)
        for half in range(2):
            for i in range(4):
                if half == 0:
                    s = [sc[j][i] & 63 for j in range(8)]
                    m = [sc[j][i + 4] & 63 for j in range(8)]
                else:
                    s = [((sc[j][i] & 192) >> 2) | (sc[j][i + 8] & 15) for j in range(8)]
                    m = [((sc[j][i + 4] & 192) >> 2) | ((sc[j][i + 8] & 240) >> 4) for j in range(8)]
                o = 48 * half + 12 * i
                for k in range(4):
                    scales[o + k] = (s[k] & 63) + ((s[k + 4] & 48) << 2)
                    scales[o + 4 + k] = (m[k] & 63) + ((m[k + 4] & 48) << 2)
                    scales[o + 8 + k] = (s[k + 4] & 15) + ((m[k + 4] & 15) << 4)
        out += bytes(scales)
        for i in range(128):
            out += x[i % 8][16 + (i // 8) * 8: 16 + (i // 8) * 8 + 8].tobytes()
    return bytes(out)


def activation_rows(rng, n):
    """Hidden states like SmolLM2's: mostly small, a few large outliers, some exact zeros."""
    x = rng.standard_normal((n, COLS)).astype(np.float32)
    x[:, rng.integers(0, COLS, 6)] *= 40.0
    x[0, 100:140] = 0.0
    return x


def write_iq(ggml, args):
    out = Path(args.out) if args.out != str(Path(__file__).with_name("simd_vectors.txt")) else \
        Path(__file__).with_name("iq_simd_vectors.txt")
    rng = np.random.default_rng(args.seed + 16)
    lines = ["# made by tests/reference/make_simd_vectors.py --iq (llama-cpp-python 0.3.36, x86 -march=native)"]
    acts = activation_rows(rng, N_ACTS)
    lines.append(f"acts {N_ACTS} {COLS} {hexf(acts)}")
    for name in IQ_TYPES:
        w = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32)
        imatrix = None if name.startswith("TQ") else rng.uniform(0.1, 4.0, COLS).astype(np.float32)
        weights = ggml.store(name, w, imatrix)
        lines.append(f"weights {name} {ROWS} {COLS} {weights.hex()}")
        lines.append(f"dequant {name} {hexf(ggml.dequantize(name, weights))}")
        lines.append(f"single {name} {hexf(ggml.single(name, weights, acts))}")
        lines.append(f"batch {name} {hexf(ggml.batch(name, weights, acts))}")
        if name in ("IQ4_NL", "IQ4_XS"):  # what llama-quantize writes without an importance matrix
            lines.append(f"floats {name} {hexf(w)}")
            lines.append(f"quant {name} {ggml.store(name, w).hex()}")
        if name == "IQ4_NL":
            for n in (1, 4):
                lines.append(f"repacked {name} {n} {hexf(ggml.repacked(name, weights, acts[:n]))}")
    # IQ4_NL's vec_dot takes blocks in pairs and adds an odd last one apart: 17 blocks.
    cols = 17 * 32
    w = (rng.standard_normal((ROWS, cols)) * 0.05).astype(np.float32)
    a = rng.standard_normal((1, cols)).astype(np.float32)
    a[0, rng.integers(0, cols, 6)] *= 40.0
    weights = ggml.store("IQ4_NL", w)
    act = ggml.from_float("Q8_0", a[0])
    traits = ggml.traits("IQ4_NL")
    row_bytes = len(weights) // ROWS
    wb = np.frombuffer(weights, dtype=np.uint8).copy()
    results = []
    for r in range(ROWS):
        result = ctypes.c_float()
        VEC_DOT(traits.vec_dot)(cols, ctypes.byref(result), 0, wb.ctypes.data + r * row_bytes, 0, act.ctypes.data, 0, 1)
        results.append(result.value)
    lines.append(f"oddblocks IQ4_NL {ROWS} {cols} {weights.hex()} {hexf(a[0])} {hexf(results)}")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib-dir", default=DEFAULT_LIB)
    ap.add_argument("--out", default=str(Path(__file__).with_name("simd_vectors.txt")))
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--iq", action="store_true", help="the IQ and ternary types, into iq_simd_vectors.txt")
    args = ap.parse_args()
    ggml = Ggml(args.lib_dir)
    if args.iq:
        return write_iq(ggml, args)
    rng = np.random.default_rng(args.seed)
    lines = ["# made by tests/reference/make_simd_vectors.py (llama-cpp-python 0.3.36, x86 AVX2 FMA F16C)"]
    acts = activation_rows(rng, N_ACTS)
    lines.append(f"acts {N_ACTS} {COLS} {hexf(acts)}")
    for name in WEIGHT_TYPES:
        w = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32)
        weights = ggml.store(name, w)
        lines.append(f"weights {name} {ROWS} {COLS} {weights.hex()}")
        lines.append(f"single {name} {hexf(ggml.single(name, weights, acts))}")
        lines.append(f"batch {name} {hexf(ggml.batch(name, weights, acts))}")
        if name in ("Q4_0", "Q4_K"):
            for n in (1, 4):
                lines.append(f"repacked {name} {n} {hexf(ggml.repacked(name, weights, acts[:n]))}")
    for n in (8, 37, 64, 256, 300):
        x = (rng.standard_normal(n) * 3).astype(np.float16)
        y = (rng.standard_normal(n) * 3).astype(np.float16)
        result = ctypes.c_float()
        ggml.cpu.ggml_vec_dot_f16(n, ctypes.addressof(result), 0, x.ctypes.data, 0, y.ctypes.data, 0, 1)
        lines.append(f"f16dot {n} {x.tobytes().hex()} {y.tobytes().hex()} {hexf([result.value])}")
    for n in (5, 64, 256, 259):
        x = (rng.standard_normal(n) * 8).astype(np.float32)
        x[rng.integers(0, n, max(1, n // 5))] = -np.inf  # masked positions
        x[0] = 3.0
        x[-1] = -200.0  # beyond expf's range: 0
        mx = np.float32(x.max())
        y = np.zeros(n, dtype=np.float32)
        total = ggml.cpu.ggml_vec_soft_max_f32(n, y.ctypes.data, x.ctypes.data, mx)
        lines.append(f"softmax {n} {hexf(x)} {hexf([mx])} {hexf(y)} {struct.pack('<d', total).hex()}")
    for n in (16, 1536, 45):
        x = (rng.standard_normal(n) * 4).astype(np.float32)
        x[:3] = [-100.0, 100.0, 0.0]
        g = rng.standard_normal(n).astype(np.float32)
        y = np.zeros(n, dtype=np.float32)
        ggml.cpu.ggml_vec_swiglu_f32(n, y.ctypes.data, x.ctypes.data, g.ctypes.data)
        lines.append(f"swiglu {n} {hexf(x)} {hexf(g)} {hexf(y)}")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
