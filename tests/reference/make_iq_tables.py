#!/usr/bin/env python3
"""The IQ formats' constant tables (grids, sign patterns, non-linear 4-bit values), read out of
llama.cpp's ggml/src/ggml-common.h.

  make_iq_tables.py --check-file OUT      writes tests/reference/iq_tables.txt: per table its
                                          element count and FNV-1a 64 of its little-endian bytes
                                          (tests/unit/quant/iq_tables_test.cpp checks ours)
  make_iq_tables.py --cpp OUT             writes the tables as C++ (how quant/iq_tables.cpp was made)

Usage: make_iq_tables.py [--common ggml-common.h] (--check-file F | --cpp F)
The default header is the one scripts/setup-reference unpacks (llama-cpp-python 0.3.36).
"""
import argparse
import os
import re
import struct
import sys

DEFAULT = os.path.expanduser("~/.cache/natter/llamacpp/src/vendor/llama.cpp/ggml/src/ggml-common.h")
# ggml name -> (C++ name, element type, struct format)
TABLES = {
    "ksigns_iq2xs": ("kIqSigns", "uint8_t", "B"),
    "iq2xxs_grid": ("kIq2xxsGrid", "uint64_t", "Q"),
    "iq2xs_grid": ("kIq2xsGrid", "uint64_t", "Q"),
    "iq2s_grid": ("kIq2sGrid", "uint64_t", "Q"),
    "iq3xxs_grid": ("kIq3xxsGrid", "uint32_t", "I"),
    "iq3s_grid": ("kIq3sGrid", "uint32_t", "I"),
    "iq1s_grid": ("kIq1sGrid", "uint64_t", "Q"),
    "kvalues_iq4nl": ("kIq4nlValues", "int8_t", "b"),
}


def read_tables(path):
    text = open(path).read()
    out = {}
    for name in TABLES:
        m = re.search(r"GGML_TABLE_BEGIN\(\w+, " + name + r", \w+\)(.*?)GGML_TABLE_END\(\)", text, re.S)
        if not m:
            sys.exit(f"{name} not found in {path}")
        out[name] = [int(v, 0) for v in re.findall(r"-?0x[0-9a-fA-F]+|-?\d+", m.group(1))]
    return out


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--common", default=DEFAULT)
    ap.add_argument("--check-file")
    ap.add_argument("--cpp")
    args = ap.parse_args()
    tables = read_tables(args.common)
    if args.check_file:
        with open(args.check_file, "w") as f:
            f.write("# made by tests/reference/make_iq_tables.py from llama.cpp's ggml-common.h "
                    "(llama-cpp-python 0.3.36): NAME COUNT FNV1A64 of the little-endian bytes\n")
            for name, (cpp, _, fmt) in TABLES.items():
                values = tables[name]
                data = struct.pack("<%d%s" % (len(values), fmt), *values)
                f.write(f"{cpp} {len(values)} {fnv1a64(data):016x}\n")
    if args.cpp:
        with open(args.cpp, "w") as f:
            f.write("// The constant tables of the IQ formats (quant/iq_tables.h). They are part of the file\n"
                    "// format: the same numbers as llama.cpp's ggml-common.h, which\n"
                    "// tests/unit/quant/iq_tables_test.cpp checks against tests/reference/iq_tables.txt.\n"
                    "// Written by tests/reference/make_iq_tables.py --cpp.\n"
                    "#include \"quant/iq_tables.h\"\n\nnamespace natter::detail {\n")
            for name, (cpp, ctype, fmt) in TABLES.items():
                values = tables[name]
                per_line = {"B": 16, "b": 16, "I": 8, "Q": 4}[fmt]
                f.write(f"\nconst {ctype} {cpp}[{len(values)}] = {{\n")
                for i in range(0, len(values), per_line):
                    chunk = values[i:i + per_line]
                    if fmt in "QI":
                        width = 16 if fmt == "Q" else 8
                        f.write("    " + ", ".join(f"0x{v:0{width}x}" for v in chunk) + ",\n")
                    else:
                        f.write("    " + ", ".join(str(v) for v in chunk) + ",\n")
                f.write("};\n")
            f.write("\n}  // namespace natter::detail\n")


if __name__ == "__main__":
    main()
