#!/usr/bin/env python3
"""Writes the seed corpus for gguf_fuzz into tests/fuzz/corpus/: tiny valid GGUF files made
by the Python `gguf` package, and truncated copies of them and of the writer-*.gguf files.

The writer-*.gguf seeds were made by natter's own GgufWriter (the sample file of
tests/unit/gguf/sample.cpp, at alignments 32 and 64: every value type, nested arrays,
F32/F16/Q4_0/Q8_0/Q4_K/Q6_K tensors) and are kept as they are.

Usage: make_corpus.py [CORPUS_DIR]
"""
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter


def write(path, fill):
    w = GGUFWriter(str(path), "llama")
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def metadata_only(w):
    w.add_name("tiny")
    w.add_uint32("llama.block_count", 2)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_int64("test.i64", -5)
    w.add_float64("test.f64", 0.125)
    w.add_array("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "a", "b"])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.0, -3.0, -4.0])
    w.add_array("tokenizer.ggml.token_type", [2, 3, 3, 1, 1])
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}")


def with_tensors(w):
    w.add_uint32("llama.embedding_length", 4)
    w.add_tensor("token_embd.weight", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float16))
    q8 = np.arange(34, dtype=np.uint8).reshape(1, 34)  # one Q8_0 block of 32 weights
    w.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=Q.Q8_0)


def aligned_64(w):
    w.add_custom_alignment(64)
    w.add_tensor("a", np.zeros(3, dtype=np.float32))
    w.add_tensor("b", np.full((2, 2), 0.5, dtype=np.float32))


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for name, fill in [("py-metadata", metadata_only), ("py-tensors", with_tensors), ("py-align64", aligned_64)]:
        write(out / f"{name}.gguf", fill)
    for name in ["py-tensors.gguf", "py-metadata.gguf", "writer-align32.gguf"]:
        source = out / name
        if not source.exists():
            continue
        data = source.read_bytes()
        for cut in (23, len(data) // 3, len(data) // 2, len(data) - 1):
            (out / f"cut{cut}-{name}").write_bytes(data[:cut])


if __name__ == "__main__":
    main()
