#!/usr/bin/env python3
"""Writes tests/reference/quant_vectors.txt: test vectors for the quant layer made with the
Python `gguf` package (PyPI; its `gguf.quants` module is an independent numpy
implementation of the GGUF block formats) and numpy's own IEEE half conversion.

Usage: make_quant_vectors.py [--out FILE] [--seed N]

Line format (all hex is lowercase, floats are little-endian IEEE float32 bit patterns):
  dequant TYPE BYTES FLOATS   raw blocks and what gguf.quants dequantizes them to
  quant   TYPE FLOATS BYTES   a float row and what gguf.quants quantizes it to
  f16     FLOATS HALFS        numpy float32 -> float16 (round to nearest even), 4 hex each

Blocks are random bytes with their fp16 scale fields replaced by random finite values
(both signs, normal and subnormal), so every quant bit, scale bit and high bit is
exercised. Q8_1 and Q8_K have no dequantizer in gguf.quants; their expected values are
computed here in numpy from the format (x = d * q).
"""
import argparse
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES

# fp16 fields (byte offset) of each block layout; Q8_K's d is a float32 at offset 0.
FP16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q8_1: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
BLOCK_TYPES = list(FP16_FIELDS) + [T.Q8_K]
# gguf.constants still lists Q8_1 with float32 d and s (40 bytes); ggml has stored them as
# fp16 (36 bytes) for a long time, and so do we.
TYPE_SIZES = {**{t: GGML_QUANT_SIZES[t][1] for t in BLOCK_TYPES}, T.Q8_1: 36}
QUANTIZABLE = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16, T.F16]


def hexs(array: np.ndarray) -> str:
    return np.ascontiguousarray(array).view(np.uint8).tobytes().hex()


def random_fp16(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite fp16 values: mostly normal ones of a weight-like size, some subnormal."""
    values = (rng.standard_normal(n) * 0.01).astype(np.float16)
    subnormal = rng.random(n) < 0.2
    values[subnormal] = (rng.integers(1, 1024, size=int(subnormal.sum())) * np.float32(2.0**-24)
                         * rng.choice([-1, 1], size=int(subnormal.sum()))).astype(np.float16)
    return values


def random_blocks(rng: np.random.Generator, qtype: T, count: int) -> np.ndarray:
    type_size = TYPE_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(count, type_size), dtype=np.uint8)
    if qtype == T.Q8_K:
        d = (rng.standard_normal(count) * 0.01).astype(np.float32)
        blocks[:, 0:4] = d.view(np.uint8).reshape(count, 4)
        q = blocks[:, 4:260].view(np.int8).astype(np.int16)
        # bsums are not used by dequantization, but keep the block consistent.
        blocks[:, 260:292] = q.reshape(count, 16, 16).sum(axis=2).astype("<i2").view(np.uint8)
        return blocks
    for offset in FP16_FIELDS[qtype]:
        blocks[:, offset:offset + 2] = random_fp16(rng, count).view(np.uint8).reshape(count, 2)
    return blocks


def dequantize(qtype: T, blocks: np.ndarray) -> np.ndarray:
    count = blocks.shape[0]
    if qtype == T.Q8_1:
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        return (d * blocks[:, 4:36].view(np.int8).astype(np.float32)).reshape(-1)
    if qtype == T.Q8_K:
        d = blocks[:, 0:4].copy().view(np.float32)
        return (d * blocks[:, 4:260].view(np.int8).astype(np.float32)).reshape(-1)
    out = quants.dequantize(blocks.reshape(-1), qtype).astype(np.float32)
    assert out.size == count * GGML_QUANT_SIZES[qtype][0]
    return out


def f16_cases(rng: np.random.Generator) -> np.ndarray:
    """float32 values around every interesting fp16 boundary."""
    special = np.array([
        0.0, -0.0, 1.0, -1.0, 65504.0, 65519.996, 65520.0, -65520.0, 65536.0, 1e10, np.inf, -np.inf,
        2.0**-14, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 3 * 2.0**-26, 2.0**-26, 1e-30,
        1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-11 + 2.0**-20, 2049.0, 2051.0,
        2.0**-14 - 2.0**-25, 2.0**-14 - 2.0**-24 - 2.0**-25, 0.1, -0.3333333,
    ], dtype=np.float32)
    # Exact ties between neighbouring halves (the round-to-even cases), normal and subnormal.
    halves = rng.integers(0, 0x7bff, size=300).astype(np.uint16)
    lo = halves.view(np.float16).astype(np.float32)
    hi = (halves + 1).view(np.float16).astype(np.float32)
    ties = ((lo.astype(np.float64) + hi.astype(np.float64)) / 2).astype(np.float32)
    random_bits = rng.integers(0, 2**32, size=300, dtype=np.uint64).astype(np.uint32).view(np.float32)
    random_bits = random_bits[np.isfinite(random_bits)]
    scaled = (rng.standard_normal(300) * 10.0 ** rng.integers(-9, 6, size=300)).astype(np.float32)
    return np.concatenate([special, ties, -ties, random_bits, scaled]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("quant_vectors.txt")))
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    lines = ["# made by tests/reference/make_quant_vectors.py with the Python gguf package; "
             "see its docstring for the format"]

    for qtype in BLOCK_TYPES:
        blocks = random_blocks(rng, qtype, 3)
        lines.append(f"dequant {qtype.name} {hexs(blocks)} {hexs(dequantize(qtype, blocks))}")

    for qtype in QUANTIZABLE:
        block_size = GGML_QUANT_SIZES[qtype][0]
        n = max(block_size, 32) * 4
        row = (rng.standard_normal(n) * rng.choice([1e-3, 0.05, 3.0], size=n)).astype(np.float32)
        row[:block_size] = 0.0  # one all-zero block (d = 0 must not divide by zero)
        row[block_size + 3] = 0.5 * row[block_size + 5]
        if qtype == T.F16:
            expected = row.astype(np.float16)
        else:
            expected = quants.quantize(row, qtype)
        lines.append(f"quant {qtype.name} {hexs(row)} {hexs(expected)}")

    cases = f16_cases(rng)
    with np.errstate(over="ignore"):
        halves = cases.astype(np.float16)
    lines.append(f"f16 {hexs(cases)} {hexs(halves)}")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
