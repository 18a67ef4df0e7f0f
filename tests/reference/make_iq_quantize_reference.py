#!/usr/bin/env python3
"""Reference outputs of llama-quantize for the IQ3 and ternary quantizers (tests/unit/quantize,
IqQuantize): quantize/iq-tiny.json.

llama-quantize --allow-requantize on tests/data/models/qwen2-random-q8_0.gguf (every row 256 or
512 wide, so no fallbacks), run from tests/data, for each case below: with llama-imatrix's
matrix of tests/reference/imatrix (its 14 entries weigh the layers' matrices; token_embd and
output have none, so even with it they take the quantizers' unweighted path), or without one
where llama.cpp allows it. Each tensor's type and a short sha256 of its bytes, and the
quantize.imatrix.* keys written.

Usage (the tool venv's python, for gguf):
  ~/.cache/natter/py/bin/python tests/reference/make_iq_quantize_reference.py
"""
import json
import os
import subprocess
import sys
import tempfile

from make_imatrix_reference import quantized_table

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
BIN = os.path.join(CACHE, "llamacpp", "build", "bin")
SOURCE = "models/qwen2-random-q8_0.gguf"
IMATRIX = "../reference/imatrix/qwen2-random-q8_0.imatrix.gguf"
# name -> (file type, --pure, with the imatrix)
CASES = {
    "IQ3_XXS/pure/imatrix": ("IQ3_XXS", True, True),
    "IQ3_S/pure/imatrix": ("IQ3_S", True, True),
    "IQ3_S/pure": ("IQ3_S", True, False),
    "TQ1_0/pure/imatrix": ("TQ1_0", True, True),
    "TQ1_0/pure": ("TQ1_0", True, False),
    "TQ2_0/pure": ("TQ2_0", True, False),
    "IQ3_M/imatrix": ("IQ3_M", False, True),
    "IQ3_M": ("IQ3_M", False, False),
    "IQ3_XS/imatrix": ("IQ3_XS", False, True),
}


def main():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (ftype, pure, with_imatrix) in CASES.items():
            out = os.path.join(tmp, "q.gguf")
            cmd = [os.path.join(BIN, "llama-quantize"), "--allow-requantize"]
            cmd += ["--pure"] if pure else []
            cmd += ["--imatrix", IMATRIX] if with_imatrix else []
            done = subprocess.run(cmd + [SOURCE, out, ftype], cwd=DATA, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            results[name] = {"type": ftype, "pure": pure, "imatrix": with_imatrix, **quantized_table(out)}
            print(f"{name}: {len(results[name]['tensors'])} tensors", flush=True)
    with open(os.path.join(HERE, "quantize", "iq-tiny.json"), "w") as f:
        json.dump({"generator": "tests/reference/make_iq_quantize_reference.py",
                   "made_by": "llama-quantize --allow-requantize [--pure] [--imatrix " + IMATRIX + "] " + SOURCE +
                              " OUT TYPE, run from tests/data",
                   "cases": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
