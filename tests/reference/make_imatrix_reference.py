#!/usr/bin/env python3
"""Reference outputs of llama.cpp's importance-matrix tools for the imatrix tests
(tests/unit/imatrix).

1. imatrix/<model>.imatrix.gguf and .dat: llama-imatrix on two tiny random models of
   tests/data/models (qwen2: separate Q/K/V with biases; phi3: the fused attn_qkv and
   gate+up, collected once each), on tests/data/genesis-kjv.txt (run from tests/data, so the
   dataset stored is that name), 2 chunks of 128 tokens, a batch of 128, in both formats.
2. imatrix/smollm2.json: llama-imatrix on the default model, same text and chunks: per entry
   its count, the sum of all its columns and 8 of them (the whole file is 600 KB).
3. imatrix/quantize.json: llama-quantize --allow-requantize --imatrix on qwen2-random-q8_0
   with (1)'s matrix, for the types that use one: each tensor's type and a short sha256 of its
   bytes, and the quantize.imatrix.* keys it wrote.

llama-imatrix runs on the AVX2-only ggml-cpu (build-avx2, first in LD_LIBRARY_PATH): natter's
sums are bit-exact with that backend's activations. Usage (the tool venv's python, for gguf):
  ~/.cache/natter/py/bin/python tests/reference/make_imatrix_reference.py
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "imatrix")
DATA = os.path.join(HERE, "..", "data")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
LLAMA = os.path.join(CACHE, "llamacpp")
BIN = os.path.join(LLAMA, "build", "bin")
AVX2_LIBS = os.path.join(LLAMA, "build-avx2", "bin")
DEFAULT_MODEL = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = "genesis-kjv.txt"
ARGS = ["-c", "128", "--chunks", "2", "-b", "128", "-t", "2", "--no-repack", "-fa", "off"]
TINY = ["qwen2-random-q8_0", "phi3-random-q8_0"]
QUANT_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_S", "Q6_K", "IQ4_NL", "IQ4_XS"]


def run(cmd, **kw):
    env = dict(os.environ, LD_LIBRARY_PATH=AVX2_LIBS + ":" + BIN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if "AVX512 = 1" in done.stderr or "AMX" in done.stderr:
        sys.exit("the AVX2 ggml-cpu was not the one loaded: " + AVX2_LIBS)
    return done


def imatrix(model, out, fmt):
    run([os.path.join(BIN, "llama-imatrix"), "-m", model, "-f", TEXT, "-o", out, "--output-format", fmt] + ARGS,
        cwd=DATA)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def short_sha(blob):
    return hashlib.sha256(blob).hexdigest()[:16]


def quantized_table(path):
    """A quantized file's quantize.imatrix.* keys and, per tensor, its type and short sha256."""
    r = gguf.GGUFReader(path)
    keys = {}
    for k, field in r.fields.items():
        if k.startswith("quantize.imatrix."):
            v = field.parts[field.data[0]]
            keys[k] = bytes(v).decode() if field.types[0] == gguf.GGUFValueType.STRING else int(v[0])
    return {"keys": keys, "tensors": {t.name: [t.tensor_type.name, short_sha(t.data.tobytes())] for t in r.tensors}}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in TINY:
        model = os.path.join(DATA, "models", name + ".gguf")
        for fmt in ("gguf", "dat"):
            imatrix(model, os.path.join(OUT, f"{name}.imatrix.{fmt}"), fmt)
        print(f"{name}: imatrix in both formats")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smollm2.imatrix.gguf")
        imatrix(DEFAULT_MODEL, path, "gguf")
        r = gguf.GGUFReader(path)
        tensors = {t.name: np.array(t.data, dtype=np.float32).ravel() for t in r.tensors}
        entries = {}
        for tname, sums in tensors.items():
            if not tname.endswith(".in_sum2"):
                continue
            name = tname[: -len(".in_sum2")]
            cols = [int(c) for c in np.linspace(0, len(sums) - 1, 8)]
            entries[name] = {"count": int(tensors[name + ".counts"][0]), "n": len(sums),
                             "total": float(np.sum(sums.astype(np.float64))),
                             "columns": cols, "values": [float(sums[c]) for c in cols]}
        with open(os.path.join(OUT, "smollm2.json"), "w") as f:
            json.dump({"generator": "tests/reference/make_imatrix_reference.py",
                       "made_by": "llama-imatrix " + " ".join(["-f", TEXT] + ARGS) + " (AVX2 ggml-cpu)",
                       "model": os.path.basename(DEFAULT_MODEL), "entries": entries}, f, indent=1)
        print(f"smollm2: {len(entries)} entries")

        source = os.path.join(DATA, "models", TINY[0] + ".gguf")
        imat = os.path.join(OUT, TINY[0] + ".imatrix.gguf")
        results = {}
        for t in QUANT_TYPES + ["Q4_K_S/dat"]:
            qtype, _, fmt = t.partition("/")
            out = os.path.join(tmp, f"q-{qtype}.gguf")
            use = imat if not fmt else imat[: -len("gguf")] + "dat"
            run([os.path.join(BIN, "llama-quantize"), "--allow-requantize", "--imatrix", os.path.relpath(use, DATA),
                 os.path.relpath(source, DATA), out, qtype], cwd=DATA)
            results[t] = quantized_table(out)
            print(f"quantize {t}: {len(results[t]['tensors'])} tensors")
        with open(os.path.join(OUT, "quantize.json"), "w") as f:
            json.dump({"generator": "tests/reference/make_imatrix_reference.py",
                       "made_by": "llama-quantize --allow-requantize --imatrix imatrix/<model>.imatrix.gguf "
                                  "(or .dat) models/qwen2-random-q8_0.gguf OUT TYPE, run from tests/data",
                       "source": os.path.basename(source), "types": results}, f, indent=1)


if __name__ == "__main__":
    main()
