#!/usr/bin/env python3
"""Reference outputs of llama.cpp's quantizer (llama_model_quantize through llama-cpp-python)
for the quantize tests (tests/unit/quantize).

1. quantize/choices.json: for every file type natter offers, the type llama.cpp gives each
   tensor of the default model (its exact F32 copy is the source) and a short sha256 of each
   tensor's bytes, so the test can check our per-tensor choices and that our tensor data is
   byte-identical to llama.cpp's.
2. quantize/choices-iq.json: the same for the IQ and ternary file types (and Q2_K_S), in two
   sets: without an importance matrix (or "refused" where llama.cpp will not make the type
   without one), and with llama-imatrix's matrix of the default model on Genesis (made once,
   cached, its sha256 recorded) through the llama-quantize binary.
3. quantize/greedy-<type>.json: llama.cpp run on files that `natter quantize` wrote (sha256
   recorded): prompt tokens, greedy 64-token continuation, top-2 logits per step (to
   recognise near-ties) and the full logits of the first generated position.

Usage: make_quantize_reference.py --natter build/natter [--skip-choices] [--skip-iq-choices]
                                  [--skip-greedy] [--greedy-types IQ3_M,...]
Needs the venv with llama-cpp-python (scripts/setup-reference).
"""
import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import gguf
import llama_cpp

import make_engine_reference as engine
import make_imatrix_reference as imatrix_ref

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "quantize")
WORK = os.path.join(engine.CACHE, "quantize")

# natter's names and llama.cpp's numbers (llama_ftype).
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
              "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
              "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "BF16": 32, "IQ4_NL": 25, "IQ4_XS": 30}
# llama.cpp's numbers for the IQ and ternary file types, and Q2_K_S.
IQ_FILE_TYPES = {"IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24,
                 "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ1_M": 31, "TQ1_0": 36, "TQ2_0": 37}
# Files natter writes that llama.cpp then runs (a spread of mixes and fallbacks).
GREEDY_TYPES = ["Q4_K_M", "Q3_K_S", "Q5_K_M", "Q2_K", "IQ3_M"]
LLAMA_BIN = os.path.join(engine.CACHE, "llamacpp", "build", "bin")
# The llama.cpp tools on the AVX2-only ggml-cpu (the build's default one needs instructions
# some machines lack), as make_imatrix_reference.py runs them.
LLAMA_ENV = dict(os.environ, LD_LIBRARY_PATH=os.path.join(engine.CACHE, "llamacpp", "build-avx2", "bin") + ":" + LLAMA_BIN)
GREEDY_PROMPTS = ["capital", "code"]


def sha256(path):
    return engine.sha256(path)


def make_source(natter):
    """The default model's weights as F32 (exact: Q4_1/Q8_0 values are representable)."""
    path = os.path.join(WORK, "smollm2-f32.gguf")
    subprocess.run([natter, "quantize", "--pure", "--allow-requantize", "--quiet",
                    engine.DEFAULT_MODEL, path, "F32"], check=True)
    return path


def llama_quantize(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    if llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama_model_quantize failed for ftype {ftype}")


def tensor_table(path):
    reader = gguf.GGUFReader(path)
    return {t.name: [t.tensor_type.name, hashlib.sha256(t.data.tobytes()).hexdigest()[:16]]
            for t in reader.tensors}


def write_choices(name, doc):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(doc, f, indent=0, sort_keys=False)
        f.write("\n")


def choices(source):
    doc = {"generator": "tests/reference/make_quantize_reference.py",
           "llama_cpp_python": llama_cpp.__version__,
           "source": os.path.basename(source), "source_sha256": sha256(source),
           "made_by": "natter quantize --pure --allow-requantize <default model> F32",
           "tensor": "name -> [llama.cpp's type, first 16 hex digits of sha256(tensor bytes)]",
           "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ftype in FILE_TYPES.items():
            out = os.path.join(tmp, name + ".gguf")
            llama_quantize(source, out, ftype)
            doc["types"][name] = {"ftype": ftype, "tensors": tensor_table(out)}
            os.remove(out)
            print(f"  {name}: done", flush=True)
    write_choices("choices.json", doc)


def default_imatrix():
    """llama-imatrix on the default model with make_imatrix_reference.py's settings (2 chunks of
    128 tokens of Genesis), as make_iq2_quantize_reference.py writes it to the same file."""
    path = os.path.join(WORK, "smollm2.imatrix.gguf")
    imatrix_ref.run([os.path.join(LLAMA_BIN, "llama-imatrix"), "-m", engine.DEFAULT_MODEL, "-f", imatrix_ref.TEXT,
                     "-o", path, "--output-format", "gguf"] + imatrix_ref.ARGS, cwd=imatrix_ref.DATA)
    return path


def iq_choices(source):
    imatrix = default_imatrix()
    doc = {"generator": "tests/reference/make_quantize_reference.py",
           "llama_cpp_python": llama_cpp.__version__,
           "source": os.path.basename(source), "source_sha256": sha256(source),
           "imatrix": "llama-imatrix -m <default model> -f " + imatrix_ref.TEXT + " " + " ".join(imatrix_ref.ARGS) +
                      " (AVX2 ggml-cpu, from tests/data)",
           "imatrix_sha256": sha256(imatrix),
           "tensor": "name -> [llama.cpp's type, first 16 hex digits of sha256(tensor bytes)]",
           "types": {}, "types_imatrix": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ftype in IQ_FILE_TYPES.items():
            out = os.path.join(tmp, name + ".gguf")
            try:
                llama_quantize(source, out, ftype)
                doc["types"][name] = {"ftype": ftype, "tensors": tensor_table(out)}
                os.remove(out)
            except RuntimeError:  # llama.cpp makes it only with an importance matrix
                doc["types"][name] = {"ftype": ftype, "refused": True}
            subprocess.run([os.path.join(LLAMA_BIN, "llama-quantize"), "--imatrix", imatrix, source, out, name],
                           check=True, capture_output=True, env=LLAMA_ENV)
            doc["types_imatrix"][name] = {"ftype": ftype, "tensors": tensor_table(out)}
            os.remove(out)
            print(f"  {name}: done", flush=True)
    write_choices("choices-iq.json", doc)


def greedy(natter, source, types):
    engine.OUT = OUT  # its reference() writes the first-position logits there
    for t in types:
        path = os.path.join(WORK, f"smollm2-{t.lower()}.gguf")
        subprocess.run([natter, "quantize", "--quiet", source, path, t], check=True)
        name = f"greedy-{t.lower()}"
        cases = engine.reference(path, name, GREEDY_PROMPTS)
        doc = {"generator": "tests/reference/make_quantize_reference.py",
               "llama_cpp_python": llama_cpp.__version__, "flash_attn": False, "n_threads": 2,
               "model": os.path.basename(path), "sha256": sha256(path), "type": t,
               "made_by": f"natter quantize <source> {t}", "cases": cases}
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", required=True, help="path to the natter binary")
    ap.add_argument("--skip-choices", action="store_true")
    ap.add_argument("--skip-iq-choices", action="store_true")
    ap.add_argument("--skip-greedy", action="store_true")
    ap.add_argument("--greedy-types", default=",".join(GREEDY_TYPES))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)
    source = make_source(args.natter)
    if not args.skip_choices:
        choices(source)
    if not args.skip_iq_choices:
        iq_choices(source)
    if not args.skip_greedy:
        greedy(args.natter, source, args.greedy_types.split(","))


if __name__ == "__main__":
    sys.exit(main())
