#!/usr/bin/env python3
"""Writes the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) back as a Hugging Face checkpoint.

The folder gets what a Hugging Face download of a llama-family model has: config.json,
generation_config.json, model.safetensors (every weight dequantized to F32, so exactly the
values the GGUF holds; Q and K un-permuted back to Hugging Face's rotary layout; the embedding
tied to the output as in SmolLM2), and the real tokenizer rebuilt from the GGUF's vocabulary:
tokenizer.json (byte-level BPE with SmolLM2's pre-tokenizer: single digits, then GPT-2's
split), tokenizer_config.json (special tokens, chat template, add_prefix_space false).

natter convert must turn it into what llama.cpp's convert_hf_to_gguf.py makes of it (the
references in tests/reference/convert/smollm2.json, made by make_convert_checkpoints.py).
Needs only numpy and gguf (the tool venv's); the tests run it as a fixture.

Usage: python3 tests/reference/smollm2_to_safetensors.py SmolLM2-135M-Instruct.Q4_1.gguf OUT_DIR
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import quants

HF_NAMES = {
    "token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj", "ffn_norm": "post_attention_layernorm",
}


def field(r, key):
    f = r.fields[key]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[-1]).decode("utf-8")
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    return f.parts[-1].tolist()[0]


def unpermute(w, n_head):
    # llama.cpp's LlamaModel.permute, undone: interleaved pairs back to two halves per head.
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, a in tensors:
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for _, a in tensors:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    r = gguf.GGUFReader(src)
    a = field(r, "general.architecture")
    n_head, n_kv = field(r, f"{a}.attention.head_count"), field(r, f"{a}.attention.head_count_kv")
    tensors = []
    for t in r.tensors:
        w = quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])
        parts = t.name.split(".")
        if parts[0] == "blk":
            role = parts[2]
            name = f"model.layers.{parts[1]}.{HF_NAMES[role]}.{parts[3]}"
            if role == "attn_q":
                w = unpermute(w, n_head)
            elif role == "attn_k":
                w = unpermute(w, n_kv)
        else:
            name = HF_NAMES[parts[0]] + "." + parts[1]
        tensors.append((name, w))
    tensors.sort()
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)

    tokens, types = field(r, "tokenizer.ggml.tokens"), field(r, "tokenizer.ggml.token_type")
    special = {i: t for i, (t, ty) in enumerate(zip(tokens, types)) if ty == gguf.TokenType.CONTROL}
    ids = {k: field(r, f"tokenizer.ggml.{k}_token_id") for k in ("bos", "eos", "unknown", "padding")}
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "hidden_size": field(r, f"{a}.embedding_length"), "intermediate_size": field(r, f"{a}.feed_forward_length"),
        "num_hidden_layers": field(r, f"{a}.block_count"), "num_attention_heads": n_head,
        "num_key_value_heads": n_kv, "max_position_embeddings": field(r, f"{a}.context_length"),
        "rms_norm_eps": 1e-05, "rope_theta": 100000.0, "vocab_size": len(tokens), "tie_word_embeddings": True,
        "bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["padding"],
        "attention_bias": False, "mlp_bias": False, "initializer_range": 0.02, "pretraining_tp": 1,
        "rope_scaling": None, "torch_dtype": "float32", "use_cache": True,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["padding"]}, f, indent=2)

    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in special.items()],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)},
                  "merges": [m.split(" ") for m in field(r, "tokenizer.ggml.merges")]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    tokenizer_config = {
        "add_prefix_space": False, "bos_token": tokens[ids["bos"]], "eos_token": tokens[ids["eos"]],
        "unk_token": tokens[ids["unknown"]], "pad_token": tokens[ids["padding"]],
        "chat_template": field(r, "tokenizer.chat_template"), "clean_up_tokenization_spaces": False,
        "model_max_length": 8192, "tokenizer_class": "GPT2Tokenizer", "vocab_size": len(tokens),
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, t in special.items()},
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
