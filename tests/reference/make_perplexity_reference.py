#!/usr/bin/env python3
"""llama.cpp's perplexity, computed through llama-cpp-python, for the perplexity tests.

llama-cpp-python does not ship llama.cpp's perplexity tool, so this script follows its rules
with the library's own tokenizer and forward pass: the whole text is tokenized with BOS when
the model adds one (special tokens not parsed), cut into chunks of n_ctx tokens, each chunk
is evaluated from an empty cache with its first token replaced by BOS when the model adds
BOS, and the second half of each chunk is scored (logits at position j predict token j+1,
for j from n_ctx/2 to n_ctx-2). It records the running perplexity after each chunk, the
final estimate and its standard error, as `llama-perplexity` prints them.

Usage: make_perplexity_reference.py [--chunks N]
Writes tests/reference/perplexity/<model>.<text>.json.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "perplexity")
DATA = os.path.join(HERE, "..", "data")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
STORIES = os.path.join(HERE, "..", "data", "models", "stories260K.gguf")

# (name, model path, text file, n_ctx, chunks)
RUNS = [
    ("smollm2-q4_1", os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"), "genesis-kjv.txt", 512, 6),
    ("smollm2-q4_1", os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"), "tang300.txt", 512, 4),
    ("smollm2-q4_1", os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"), "genesis-kjv.txt", 128, 8),
    ("stories260k", STORIES, "genesis-kjv.txt", 128, 8),  # SentencePiece, adds BOS
]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def log_softmax_at(logits, token):
    m = float(np.max(logits))
    return float(logits[token]) - m - math.log(float(np.sum(np.exp(logits.astype(np.float64) - m))))


def perplexity(model_path, text, n_ctx, max_chunks):
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=2,
                          logits_all=True, flash_attn=False, verbose=False)
    add_bos = llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
    bos = llama_cpp.llama_vocab_bos(llm._model.vocab)
    # add_bos=True is llama.cpp's add_special: BOS only where the vocabulary asks for it.
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    if len(tokens) < 2 * n_ctx:
        raise SystemExit(f"text too short: {len(tokens)} tokens")
    n_chunks = min(max_chunks, len(tokens) // n_ctx)
    first = n_ctx // 2
    nll = nll2 = 0.0
    count = 0
    running = []
    for i in range(n_chunks):
        chunk = list(tokens[i * n_ctx:(i + 1) * n_ctx])
        if add_bos:
            chunk[0] = bos
        llm.reset()
        llm.eval(chunk)
        scores = np.array(llm.scores[:n_ctx], dtype=np.float32)
        for j in range(first, n_ctx - 1):
            lp = log_softmax_at(scores[j], chunk[j + 1])
            nll -= lp
            nll2 += lp * lp
            count += 1
        running.append(math.exp(nll / count))
        print(f"[{i + 1}]{running[-1]:.4f}", end=",", flush=True)
    mean = nll / count
    ppl = math.exp(mean)
    var = nll2 / count - mean * mean
    err = math.sqrt(var / (count - 1)) * ppl if var > 0 else 0.0
    print(f"\nFinal estimate: PPL = {ppl:.4f} +/- {err:.5f}")
    return {"n_text_tokens": len(tokens), "first_tokens": [int(t) for t in tokens[:16]], "add_bos": bool(add_bos),
            "n_chunks": n_chunks, "n_scored": count, "running": running, "ppl": ppl, "ppl_error": err,
            "mean_nll": mean}


def main():
    ap = argparse.ArgumentParser()
    ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for name, model, text_file, n_ctx, chunks in RUNS:
        text_path = os.path.join(DATA, text_file)
        with open(text_path, encoding="utf-8") as f:
            text = f.read()
        print(f"{name} {text_file} c={n_ctx}")
        result = perplexity(model, text, n_ctx, chunks)
        doc = {"generator": "tests/reference/make_perplexity_reference.py",
               "llama_cpp_python": llama_cpp.__version__, "model": os.path.basename(model),
               "model_sha256": sha256(model), "text": text_file, "text_sha256": sha256(text_path),
               "n_ctx": n_ctx, **result}
        stem = f"{name}.{os.path.splitext(text_file)[0]}.c{n_ctx}"
        with open(os.path.join(OUT, stem + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
