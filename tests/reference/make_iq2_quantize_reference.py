#!/usr/bin/env python3
"""Reference outputs of llama.cpp for natter's IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M
quantizers (tests/unit/quantize/iq2_test.cpp), in quantize/iq2_imatrix.json:

1. the importance matrix: llama-imatrix on the default model (genesis-kjv.txt, 2 chunks of
   128 tokens, batches of 128, -fa off, the AVX2 ggml-cpu: make_imatrix_reference.py's
   settings), written as ~/.cache/natter/quantize/smollm2.imatrix.gguf; its sha256 (the test
   remakes it with natter and checks it).
2. per type, llama-quantize --pure --imatrix smollm2.imatrix.gguf (run from that folder) on
   the default model's exact F32 copy: each tensor's type and a short sha256 of its bytes.
3. per type, llama.cpp (llama-cpp-python) run on the file `natter quantize --pure --imatrix`
   wrote the same way (sha256 recorded): prompt tokens, greedy continuation, top-2 logits.

llama.cpp runs on the AVX2 ggml-cpu (natter sums in its order), first in LD_LIBRARY_PATH:
  LD_LIBRARY_PATH=~/.cache/natter/llamacpp/build-avx2/bin ~/.cache/natter/llamacpp/venv/bin/python \
      tests/reference/make_iq2_quantize_reference.py --natter build/natter [--greedy-only]
(--greedy-only keeps the JSON's llama-quantize tables and redoes 3.)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import llama_cpp

import make_engine_reference as engine
import make_imatrix_reference as imatrix_ref
import make_quantize_reference as quantize_ref

# natter's names and llama.cpp's numbers (llama_ftype in include/llama.h).
# (llama.cpp's IQ2_S file type is mostly IQ2_XS tensors, IQ2_M mostly IQ2_S: llama_ftype_get_default_type.)
TYPES = {"IQ2_XXS": 19, "IQ2_XS": 20, "IQ2_S": 28, "IQ2_M": 29, "IQ1_S": 24, "IQ1_M": 31}
IMATRIX = "smollm2.imatrix.gguf"
PROMPT = "capital"
N_GEN = 32


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", required=True, help="path to the natter binary")
    ap.add_argument("--greedy-only", action="store_true", help="keep the recorded llama-quantize tables")
    args = ap.parse_args()
    engine.require_avx2_backend()
    out_json = os.path.join(quantize_ref.OUT, "iq2_imatrix.json")
    old = json.load(open(out_json)) if args.greedy_only else None
    natter = os.path.abspath(args.natter)
    work = quantize_ref.WORK
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "smollm2-f32.gguf")
    if not (args.greedy_only and engine.sha256(source) == old["source_sha256"]):
        source = quantize_ref.make_source(natter)
    imat = os.path.join(work, IMATRIX)
    if not args.greedy_only:
        imatrix_ref.run([os.path.join(imatrix_ref.BIN, "llama-imatrix"), "-m", imatrix_ref.DEFAULT_MODEL,
                     "-f", imatrix_ref.TEXT, "-o", imat, "--output-format", "gguf"] + imatrix_ref.ARGS,
                    cwd=imatrix_ref.DATA)
    doc = {"generator": "tests/reference/make_iq2_quantize_reference.py",
           "llama_cpp_python": llama_cpp.__version__,
           "source": os.path.basename(source), "source_sha256": engine.sha256(source),
           "imatrix": IMATRIX, "imatrix_sha256": engine.sha256(imat),
           "imatrix_made_by": "llama-imatrix -m SmolLM2-135M-Instruct.Q4_1.gguf -f " + imatrix_ref.TEXT + " " +
                              " ".join(imatrix_ref.ARGS) + " (AVX2 ggml-cpu, from tests/data)",
           "made_by": f"llama-quantize --pure --imatrix {IMATRIX} <source> OUT TYPE (from the matrix's folder); "
                      f"greedy: llama.cpp on natter quantize --pure --imatrix {IMATRIX} <source> OUT TYPE",
           "tensor": "name -> [llama.cpp's type, first 16 hex digits of sha256(tensor bytes)]",
           "types": {}}
    engine.N_GEN = N_GEN
    with tempfile.TemporaryDirectory() as tmp:
        engine.OUT = tmp  # reference() writes the first position's logits there; not kept
        for name, ftype in TYPES.items():
            theirs = os.path.join(tmp, f"llama-{name}.gguf")
            if not args.greedy_only:
                subprocess.run([os.path.join(imatrix_ref.BIN, "llama-quantize"), "--pure", "--imatrix", IMATRIX,
                                source, theirs, name], cwd=work, check=True, capture_output=True)
            ours = os.path.join(work, "ours", f"smollm2-{name.lower()}-pure-imatrix.gguf")
            os.makedirs(os.path.dirname(ours), exist_ok=True)
            if not (old and os.path.exists(ours) and engine.sha256(ours) == old["types"][name]["natter_sha256"]):
                subprocess.run([natter, "quantize", "--quiet", "--pure", "--imatrix", IMATRIX, source, ours, name],
                               cwd=work, check=True)
            case = engine.reference(ours, f"iq2-{name.lower()}", [PROMPT])[0]
            doc["types"][name] = {
                "ftype": ftype,
                "tensors": old["types"][name]["tensors"] if old else quantize_ref.tensor_table(theirs),
                "natter_sha256": engine.sha256(ours),
                "greedy": {k: case[k] for k in ("name", "prompt", "prompt_tokens", "generated", "top2")}}
            same = quantize_ref.tensor_table(ours) == doc["types"][name]["tensors"]
            print(f"  {name}: natter's tensors {'equal' if same else 'DIFFER from'} llama-quantize's", flush=True)
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
