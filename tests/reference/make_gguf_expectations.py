#!/usr/bin/env python3
"""Records what the Python `gguf` package (PyPI, the GGUF format's own reader) reads from
real model files, so that the C++ GGUF reader's tests compare against an independent
implementation. Writes tests/reference/gguf_expectations.json.

Usage: make_gguf_expectations.py [--data-dir DIR] [--model-dir DIR] [--out FILE]

For each file: header facts, every metadata key with its type and value (arrays as their
element type, length, first items, last item and an FNV-1a hash of all items' encoded
bytes), and every tensor with its type, shape, offset, size and a fingerprint of its data
(first and last 16 bytes, and the sum of all bytes).
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

SCALAR_DTYPES = {
    GGUFValueType.UINT8: "<u1", GGUFValueType.INT8: "<i1", GGUFValueType.UINT16: "<u2",
    GGUFValueType.INT16: "<i2", GGUFValueType.UINT32: "<u4", GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4", GGUFValueType.BOOL: "<u1", GGUFValueType.UINT64: "<u8",
    GGUFValueType.INT64: "<i8", GGUFValueType.FLOAT64: "<f8",
}


def fnv1a(data: bytes, h: int = FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def string_json(raw: bytes):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}


def scalar_json(vtype, part):
    value = part.tolist()[0]
    if vtype == GGUFValueType.BOOL:
        return bool(value)
    return value  # Python floats print as the shortest text that reads back exactly


def item_bytes(vtype, part) -> bytes:
    """The item as the GGUF file encodes it: strings with their u64 length prefix."""
    if vtype == GGUFValueType.STRING:
        raw = bytes(part)
        return len(raw).to_bytes(8, "little") + raw
    return np.asarray(part, dtype=SCALAR_DTYPES[vtype]).tobytes()


def metadata_json(field):
    vtype = field.types[0]
    entry = {"key": field.name, "type": vtype.name.lower()}
    if vtype != GGUFValueType.ARRAY:
        part = field.parts[field.data[0]]
        entry["value"] = string_json(bytes(part)) if vtype == GGUFValueType.STRING else scalar_json(vtype, part)
        return entry
    element = field.types[-1]
    if len(field.types) > 2:
        raise SystemExit(f"{field.name}: nested arrays are not recorded by this script")
    entry["element_type"] = element.name.lower()
    items = [field.parts[i] for i in field.data]
    entry["count"] = len(items)
    to_json = (lambda p: string_json(bytes(p))) if element == GGUFValueType.STRING else (lambda p: scalar_json(element, p))
    entry["first"] = [to_json(p) for p in items[:5]]
    if items:
        entry["last"] = to_json(items[-1])
    h = FNV_OFFSET
    for p in items:
        h = fnv1a(item_bytes(element, p), h)
    entry["fnv1a"] = f"{h:016x}"
    return entry


def tensor_json(reader, tensor, data_offset):
    raw = np.asarray(reader.data[tensor.data_offset:tensor.data_offset + tensor.n_bytes], dtype=np.uint8)
    return {
        "name": tensor.name,
        "type": int(tensor.tensor_type),
        "type_name": tensor.tensor_type.name,
        "shape": [int(d) for d in tensor.shape],
        "offset": int(tensor.data_offset - data_offset),
        "nbytes": int(tensor.n_bytes),
        "n_elements": int(tensor.n_elements),
        "head": bytes(raw[:16]).hex(),
        "tail": bytes(raw[-16:]).hex(),
        "byte_sum": int(raw.sum(dtype=np.uint64)),
    }


def file_json(path: Path):
    reader = GGUFReader(str(path))
    fields = [f for f in reader.fields.values() if not f.name.startswith("GGUF.")]
    version = int(reader.fields["GGUF.version"].parts[0][0])
    return {
        "version": version,
        "file_size": path.stat().st_size,
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata": [metadata_json(f) for f in fields],
        "tensors": [tensor_json(reader, t, reader.data_offset) for t in reader.tensors],
    }


def main():
    here = Path(__file__).resolve().parent
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "natter" / "models"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=here.parents[1] / "data")
    parser.add_argument("--model-dir", type=Path, default=cache)
    parser.add_argument("--out", type=Path, default=here / "gguf_expectations.json")
    args = parser.parse_args()

    # Keys name the file relative to where the C++ test finds it: "data:" under tests/data
    # test data, "models:" in the model cache.
    files = {
        "data:models/stories260K.gguf": args.data_dir / "models" / "stories260K.gguf",
        "data:tokenizer/ggml-vocab-gpt-2.gguf": args.data_dir / "tokenizer" / "ggml-vocab-gpt-2.gguf",
        "models:SmolLM2-135M-Instruct.Q4_1.gguf": args.model_dir / "SmolLM2-135M-Instruct.Q4_1.gguf",
    }
    out = {name: file_json(path) for name, path in files.items()}
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
