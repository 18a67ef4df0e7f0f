#!/usr/bin/env python3
"""Reads a GGUF file written by natter's GgufWriter (the sample of tests/unit/gguf/sample.cpp)
with the Python `gguf` package and checks every value. Exits 0 when all match, else prints
each difference and exits 1.

Usage: check_with_python.py FILE [ALIGNMENT]
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFValueType as T

problems = []


def check(what, got, want):
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")


def decode(field, i, vtype):
    """Decodes the value whose parts start at field.parts[i]; returns (value, next index).
    Walks the parts by hand because GGUFReader's contents() does not handle nested arrays."""
    parts = field.parts
    if vtype == T.STRING:
        return bytes(parts[i + 1]).decode("utf-8"), i + 2
    if vtype == T.ARRAY:
        element = T(int(parts[i][0]))
        count = int(parts[i + 1][0])
        i += 2
        items = []
        for _ in range(count):
            item, i = decode(field, i, element)
            items.append(item)
        return (element, items), i
    value = parts[i].tolist()[0]
    return (bool(value) if vtype == T.BOOL else value), i + 1


def f32(x):
    return float(np.float32(x))


def arr(element, items):
    return (element, items)


EXPECTED = [
    ("general.architecture", T.STRING, "llama"),
    ("test.u8", T.UINT8, 200),
    ("test.i8", T.INT8, -100),
    ("test.u16", T.UINT16, 60000),
    ("test.i16", T.INT16, -30000),
    ("test.u32", T.UINT32, 4000000000),
    ("test.i32", T.INT32, -2000000000),
    ("test.f32", T.FLOAT32, 3.25),
    ("test.bool_true", T.BOOL, True),
    ("test.bool_false", T.BOOL, False),
    ("test.string", T.STRING, "héllo wörld ✓"),
    ("test.empty_string", T.STRING, ""),
    ("test.u64", T.UINT64, 2**63 + 5),
    ("test.i64", T.INT64, -(2**62)),
    ("test.f64", T.FLOAT64, -2.5e-300),
    ("test.array.u8", T.ARRAY, arr(T.UINT8, [1, 2, 255])),
    ("test.array.i16", T.ARRAY, arr(T.INT16, [-32768, 32767])),
    ("test.array.u32", T.ARRAY, arr(T.UINT32, [7])),
    ("test.array.i64", T.ARRAY, arr(T.INT64, [-1, 2**40])),
    ("test.array.f32", T.ARRAY, arr(T.FLOAT32, [0.5, f32(-1e-5), 100000.0])),
    ("test.array.f64", T.ARRAY, arr(T.FLOAT64, [1.0 / 3.0])),
    ("test.array.bool", T.ARRAY, arr(T.BOOL, [True, False, True])),
    ("test.array.string", T.ARRAY, arr(T.STRING, ["<s>", "", "你好"])),
    ("test.array.empty", T.ARRAY, arr(T.INT32, [])),
    ("test.nested.int32", T.ARRAY, arr(T.ARRAY, [arr(T.INT32, [1, 2]), arr(T.INT32, [3]), arr(T.INT32, [])])),
    ("test.nested.string", T.ARRAY, arr(T.ARRAY, [arr(T.STRING, ["a", "b"]), arr(T.STRING, ["c"])])),
    ("test.nested.deep", T.ARRAY,
     arr(T.ARRAY, [arr(T.ARRAY, [arr(T.UINT16, [1])]), arr(T.ARRAY, [arr(T.UINT16, [2, 3])])])),
]

# name, type, shape (GGUF order: row dimension first), bytes
TENSORS = [
    ("t.f32", Q.F32, [4, 3], 48),
    ("t.f16", Q.F16, [64], 128),
    ("t.q4_0", Q.Q4_0, [64, 2], 72),
    ("t.q8_0", Q.Q8_0, [32, 3], 102),
    ("t.q4_k", Q.Q4_K, [256], 144),
    ("t.q6_k", Q.Q6_K, [256, 2], 420),
    ("t.last", Q.F32, [16], 64),
]


def main():
    path = sys.argv[1]
    alignment = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    reader = GGUFReader(path)
    check("version", int(reader.fields["GGUF.version"].parts[0][0]), 3)
    check("alignment", reader.alignment, alignment)
    fields = [f for f in reader.fields.values() if not f.name.startswith("GGUF.")]
    expected = list(EXPECTED)
    if alignment != 32:
        expected.append(("general.alignment", T.UINT32, alignment))
    check("keys in order", [f.name for f in fields], [e[0] for e in expected])
    for field, (key, vtype, value) in zip(fields, expected):
        check(f"{key} type", field.types[0], vtype)
        got, end = decode(field, 3, vtype)  # parts 0-2: key length, key, value type
        check(f"{key} value", got, value)
        check(f"{key} parts used", end, len(field.parts))

    check("tensor names", [t.name for t in reader.tensors], [t[0] for t in TENSORS])
    for k, (tensor, (name, qtype, shape, nbytes)) in enumerate(zip(reader.tensors, TENSORS)):
        check(f"{name} type", tensor.tensor_type, qtype)
        check(f"{name} shape", [int(d) for d in tensor.shape], shape)
        check(f"{name} bytes", int(tensor.n_bytes), nbytes)
        check(f"{name} aligned", (tensor.data_offset - reader.data_offset) % alignment, 0)
        raw = bytes(reader.data[tensor.data_offset:tensor.data_offset + nbytes])
        if k == 0:
            check(f"{name} values", tensor.data.tolist(), np.arange(12, dtype=np.float32).reshape(3, 4).tolist())
        else:
            check(f"{name} data", raw, bytes((i * 31 + k * 7) & 0xFF for i in range(nbytes)))

    for p in problems:
        print(p)
    print(f"{len(fields)} keys and {len(reader.tensors)} tensors checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
