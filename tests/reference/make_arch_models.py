#!/usr/bin/env python3
"""Tiny random-weight models of the qwen2, qwen3, phi3 and gemma3 families for the engine tests.

Each is written in its family's exact GGUF layout (tensor names and shapes as llama.cpp's
convert_hf_to_gguf.py writes them and llama.cpp's loader expects them: qwen2's Q/K/V biases,
qwen3's per-head Q/K norms and a head size that is not n_embd / n_head, phi3's fused attn_qkv
and gate+up ffn_up with partial rotary), with stories260K's 512-token SentencePiece vocabulary,
as F32 from a fixed seed, then quantized by llama.cpp's llama-quantize to Q8_0 and Q4_K_M
(its per-tensor mix). n_embd 256 and n_ff 512 make every matrix a whole number of K-quant
super-blocks. The quantized files (about 1-1.6 MB) are committed in tests/data/models/; the
references are made from them by make_engine_reference.py.

Usage: ~/.cache/natter/llamacpp/venv/bin/python tests/reference/make_arch_models.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "models")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
LLAMA_QUANTIZE = os.path.join(CACHE, "llamacpp", "build", "bin", "llama-quantize")

N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV = 256, 512, 2, 4, 2
FAMILIES = {
    # name: head_dim, rope dimensions, rope base, what the layers add
    "qwen2": dict(head_dim=64, n_rot=64, base=1000000.0),
    "qwen3": dict(head_dim=128, n_rot=128, base=1000000.0),
    "phi3": dict(head_dim=64, n_rot=32, base=10000.0),
    # LongRoPE as the converter writes Phi-3.5 / Phi-4 mini: short and long factors, the
    # original context (256 here, so a 512 context takes the long ones) and the attention
    # factor sqrt(1 + ln(2048 / 256) / ln 256); Q8_0 only (RoPE is the same for any type).
    "phi3-longrope": dict(head_dim=64, n_rot=32, base=10000.0, arch="phi3", longrope=256),
    # gemma3 with what Gemma 3 270M lacks: a window (8) shorter than the prompts, the pattern
    # as a number (every 2nd layer global), its own local RoPE base, linear RoPE scaling of the
    # global layers (as Gemma 3 4B and up), final logit softcapping; one key/value head;
    # Q4_K_M only (its Q8_0 is 2.7 MB).
    "gemma3": dict(head_dim=64, n_rot=64, base=1000000.0, n_layer=4, n_head_kv=1, swa=8, swa_pattern=2,
                   base_swa=5000.0, linear=4.0, softcap=5.0),
    # YaRN as Qwen2.5's long-context note sets it: factor 4 over an original context of 128.
    "qwen2-yarn": dict(head_dim=64, n_rot=64, base=1000000.0, arch="qwen2", yarn=(4.0, 128)),
}
TYPES = {"Q8_0": "q8_0", "Q4_K_M": "q4_k_m"}


def stories_vocab():
    r = gguf.GGUFReader(os.path.join(DATA, "stories260K.gguf"))
    f = r.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
    scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    ids = {k: int(f[k].parts[f[k].data[0]][0]) for k in
           ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id")}
    return tokens, scores, types, ids


def write_f32(arch, path, rng):
    cfg = FAMILIES[arch]
    hd, n_vocab = cfg["head_dim"], 512
    n_layer, n_head_kv = cfg.get("n_layer", N_LAYER), cfg.get("n_head_kv", N_HEAD_KV)
    q_dim, kv_dim = N_HEAD * hd, n_head_kv * hd
    tokens, scores, types, ids = stories_vocab()
    longrope = cfg.get("longrope")
    arch = cfg.get("arch", arch)
    w = gguf.GGUFWriter(path, arch)
    # (Not the family in the name: llama.cpp changes the special tokens of a "phi3" name.)
    w.add_name("natter random weights")
    w.add_context_length(2048)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(cfg["n_rot"])
    w.add_rope_freq_base(cfg["base"])
    w.add_layer_norm_rms_eps(1e-6)
    if "swa" in cfg:
        w.add_uint32(f"{arch}.attention.sliding_window", cfg["swa"])
        w.add_uint32(f"{arch}.attention.sliding_window_pattern", cfg["swa_pattern"])
        w.add_float32(f"{arch}.rope.freq_base_swa", cfg["base_swa"])
        w.add_string(f"{arch}.rope.scaling.type", "linear")
        w.add_float32(f"{arch}.rope.scaling.factor", cfg["linear"])
        w.add_float32(f"{arch}.final_logit_softcapping", cfg["softcap"])
    if "yarn" in cfg:
        w.add_string(f"{arch}.rope.scaling.type", "yarn")
        w.add_float32(f"{arch}.rope.scaling.factor", cfg["yarn"][0])
        w.add_rope_scaling_orig_ctx_len(cfg["yarn"][1])
    if longrope:
        w.add_rope_scaling_orig_ctx_len(longrope)
        w.add_rope_scaling_attn_factors(float(np.sqrt(1 + np.log(2048 / longrope) / np.log(longrope))))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(ids["tokenizer.ggml.bos_token_id"])
    w.add_eos_token_id(ids["tokenizer.ggml.eos_token_id"])
    w.add_unk_token_id(ids["tokenizer.ggml.unknown_token_id"])

    def mat(rows, cols):  # numpy [rows][cols] = GGUF shape [cols, rows]
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w.add_tensor("token_embd.weight", rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32))
    w.add_tensor("output_norm.weight", norm(N_EMBD))
    w.add_tensor("output.weight", mat(n_vocab, N_EMBD))
    if longrope:
        half = cfg["n_rot"] // 2
        w.add_tensor("rope_factors_long.weight", np.linspace(1.0, 16.0, half).astype(np.float32))
        w.add_tensor("rope_factors_short.weight", (1.0 + 0.05 * rng.random(half)).astype(np.float32))
    for l in range(n_layer):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", norm(N_EMBD))
        if arch == "phi3":
            w.add_tensor(p + "attn_qkv.weight", mat(q_dim + 2 * kv_dim, N_EMBD))
        else:
            w.add_tensor(p + "attn_q.weight", mat(q_dim, N_EMBD))
            w.add_tensor(p + "attn_k.weight", mat(kv_dim, N_EMBD))
            w.add_tensor(p + "attn_v.weight", mat(kv_dim, N_EMBD))
        if arch == "qwen2":  # Qwen's biases are large: they matter
            for t, n in (("q", q_dim), ("k", kv_dim), ("v", kv_dim)):
                w.add_tensor(p + f"attn_{t}.bias", (0.5 * rng.standard_normal(n)).astype(np.float32))
        if arch in ("qwen3", "gemma3"):
            w.add_tensor(p + "attn_q_norm.weight", norm(hd))
            w.add_tensor(p + "attn_k_norm.weight", norm(hd))
        w.add_tensor(p + "attn_output.weight", mat(N_EMBD, q_dim))
        if arch == "gemma3":
            w.add_tensor(p + "post_attention_norm.weight", norm(N_EMBD))
            w.add_tensor(p + "post_ffw_norm.weight", norm(N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", norm(N_EMBD))
        if arch == "phi3":
            w.add_tensor(p + "ffn_up.weight", mat(2 * N_FF, N_EMBD))  # gate rows, then up rows
        else:
            w.add_tensor(p + "ffn_gate.weight", mat(N_FF, N_EMBD))
            w.add_tensor(p + "ffn_up.weight", mat(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", mat(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(DATA, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i, arch in enumerate(FAMILIES):
            f32 = os.path.join(tmp, f"{arch}-random-f32.gguf")
            write_f32(arch, f32, np.random.default_rng(1200 + i))
            for t, suffix in TYPES.items():
                if (FAMILIES[arch].get("longrope") or "yarn" in FAMILIES[arch]) and t != "Q8_0":
                    continue
                if arch == "gemma3" and t != "Q4_K_M":  # Q8_0 would be 2.7 MB
                    continue
                out = os.path.join(DATA, f"{arch}-random-{suffix}.gguf")
                subprocess.run([LLAMA_QUANTIZE, f32, out, t], check=True, capture_output=True)
                print(out, os.path.getsize(out))


if __name__ == "__main__":
    sys.exit(main())
