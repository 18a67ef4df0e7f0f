#!/usr/bin/env python3
"""Tiny random-weight Hugging Face checkpoints of each family natter converts, and their references.

For each family this writes, with `transformers` (CPU torch), a checkpoint directory under
tests/data/checkpoints/NAME/: config.json, generation_config.json, model.safetensors (or shards
with model.safetensors.index.json), tokenizer.model (a 512-piece SentencePiece BPE vocabulary
trained here on Genesis, byte fallback, identity normalization) and tokenizer_config.json.
Every weight is random (seeded), norms included, so a mapping or a +1 shift that is wrong shows.

Then, per checkpoint, into tests/reference/convert/NAME.json:
  - "llama_cpp": for each --outtype (f32, f16, bf16, q8_0), what llama.cpp's
    convert_hf_to_gguf.py (llama-cpp-python 0.3.36's tree, its own gguf-py) writes: every
    metadata key with its GGUF type and value, every tensor's type, shape and sha256, and the
    whole file's sha256 (natter's file is the same to the byte);
  - "transformers": for each prompt, its token ids (SentencePiece, BOS first), the logits of
    the last prompt position (float32 model) and the greedy continuation of 16 tokens.

And for the default model written back as a checkpoint by smollm2_to_safetensors.py (see there),
tests/reference/convert/smollm2.json (array metadata as count and sha256) and smollm2-logits.f32.

Usage (a venv with torch, transformers, sentencepiece and numpy, e.g. ~/.cache/natter/hf-venv):
  ~/.cache/natter/hf-venv/bin/python tests/reference/make_convert_checkpoints.py [--refs-only] [NAME ...]
(--refs-only: the references of the committed checkpoints, without writing them anew.)
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DATA = os.path.join(ROOT, "tests", "data", "checkpoints")
OUT_REF = os.path.join(HERE, "convert")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter")
LLAMA_CPP = os.path.join(CACHE, "llamacpp", "src", "vendor", "llama.cpp")
CONVERT = os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py")
sys.path.insert(0, os.path.join(LLAMA_CPP, "gguf-py"))
import gguf  # noqa: E402  (llama.cpp's own gguf-py, the one its converter uses)

OUTTYPES = ["f32", "f16", "bf16", "q8_0"]
PROMPTS = ["In the beginning God created the heaven and the earth.", "And Noah", "the waters"]
N_GREEDY = 16
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '\n' }}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}")


def train_tokenizer(path, gemma):
    import sentencepiece as spm
    prefix = path[:-len(".model")]
    extra = {}
    if gemma:  # Gemma's layout: <pad> 0, <eos> 1, <bos> 2, <unk> 3, turn markers, no dummy prefix
        extra = dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3, add_dummy_prefix=False,
                     user_defined_symbols=["<start_of_turn>", "<end_of_turn>"])
    spm.SentencePieceTrainer.train(input=os.path.join(ROOT, "tests", "data", "genesis-kjv.txt"), model_prefix=prefix,
                                   vocab_size=512, model_type="bpe", byte_fallback=True, character_coverage=1.0,
                                   normalization_rule_name="identity", num_threads=1, minloglevel=2, **extra)
    os.remove(prefix + ".vocab")


def tokenizer_config(gemma, extra=None):
    bos, eos, unk = ("<bos>", "<eos>", "<unk>") if gemma else ("<s>", "</s>", "<unk>")
    ids = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3} if gemma else {"<unk>": 0, "<s>": 1, "</s>": 2}
    c = {
        "add_bos_token": True, "add_eos_token": False, "bos_token": bos, "eos_token": eos, "unk_token": unk,
        "chat_template": CHAT_TEMPLATE, "model_max_length": 256, "tokenizer_class": "LlamaTokenizer",
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for t, i in ids.items()},
    }
    if gemma:
        c["pad_token"] = "<pad>"
    c.update(extra or {})
    return c


# name: (transformers classes, config, checkpoint dtype, how many shards, tokenizer_config additions)
def families():
    from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM, MistralConfig,
                              MistralForCausalLM, Phi3Config, Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                              Qwen3Config, Qwen3ForCausalLM)
    common = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1,
                  eos_token_id=2)
    return {
        # GQA (4 query heads, 2 key/value heads) so the Q and K permutations differ; own lm_head.
        "llama": (LlamaForCausalLM, LlamaConfig(**common, tie_word_embeddings=False), torch.float32, 1, {}),
        # Llama 3's RoPE scaling (the rope_freqs tensor), tied embeddings, BF16, two shards.
        "llama3": (LlamaForCausalLM, LlamaConfig(**common, tie_word_embeddings=True, rope_theta=500000.0,
                                                 rope_scaling=dict(rope_type="llama3", factor=8.0,
                                                                   low_freq_factor=1.0, high_freq_factor=4.0,
                                                                   original_max_position_embeddings=64)),
                   torch.bfloat16, 2, {}),
        "mistral": (MistralForCausalLM, MistralConfig(**common, tie_word_embeddings=False, sliding_window=None),
                    torch.float16, 1, {}),
        # Q/K/V biases, tied embeddings, BF16.
        "qwen2": (Qwen2ForCausalLM, Qwen2Config(**common, tie_word_embeddings=True, rope_theta=1000000.0),
                  torch.bfloat16, 1, {}),
        # Per-head Q/K norms and a head size (32) that is not hidden / heads (16); three shards.
        "qwen3": (Qwen3ForCausalLM, Qwen3Config(**common, head_dim=32, tie_word_embeddings=False,
                                                rope_theta=1000000.0), torch.float32, 3, {}),
        # Fused qkv_proj and gate_up_proj, partial rotary (half the head), F16.
        "phi3": (Phi3ForCausalLM, Phi3Config(**{**common, "num_key_value_heads": 4}, partial_rotary_factor=0.5,
                                             original_max_position_embeddings=256, tie_word_embeddings=False,
                                             pad_token_id=0, sliding_window=None), torch.float16, 1, {}),
        # A 4-position window (the prompts are longer), both layers local, norms stored as w - 1.
        "gemma3": (Gemma3ForCausalLM, Gemma3TextConfig(
            vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32, max_position_embeddings=256,
            sliding_window=4, rope_theta=1000000.0, rope_local_base_freq=10000.0, pad_token_id=0,
            eos_token_id=1, bos_token_id=2, tie_word_embeddings=True, attn_logit_softcapping=None,
            final_logit_softcapping=None), torch.bfloat16, 1, {}),
    }


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if "norm" in name else 0.15)
                    + (1.0 if "norm" in name and "gemma" not in type(model).__name__.lower() else 0.0))


def write_checkpoint(name, spec, seed):
    cls, config, dtype, shards, tok_extra = spec
    path = os.path.join(OUT_DATA, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    torch.manual_seed(seed)
    model = cls(config).to(torch.float32)
    randomize(model, seed)
    model = model.to(dtype)
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    model.save_pretrained(path, safe_serialization=True,
                          max_shard_size=(size // shards + 4096) if shards > 1 else "10GB")
    gemma = name == "gemma3"
    train_tokenizer(os.path.join(path, "tokenizer.model"), gemma)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(gemma, tok_extra), f, indent=2)
    if gemma:  # sampling defaults, which the converter writes as general.sampling.*
        with open(os.path.join(path, "generation_config.json")) as f:
            gen = json.load(f)
        gen.update(top_k=64, top_p=0.95, temperature=0.7, repetition_penalty=1.1)
        with open(os.path.join(path, "generation_config.json"), "w") as f:
            json.dump(gen, f, indent=2)
    return path


def array_digest(values, element_type):
    """sha256 of an array's items: UTF-8 bytes and a NUL for strings, little-endian 4 bytes for
    INT32 / UINT32 / FLOAT32 (natter's test computes the same)."""
    h = hashlib.sha256()
    for v in values:
        if element_type == "STRING":
            h.update(v.encode("utf-8") + b"\0")
        elif element_type == "FLOAT32":
            h.update(np.float32(v).tobytes())
        elif element_type == "INT32":
            h.update(np.int32(v).tobytes())
        else:
            h.update(np.uint32(v).tobytes())
    return h.hexdigest()


def metadata_of(reader, digest_arrays=False):
    out = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue
        t = field.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            et = field.types[-1]
            if et == gguf.GGUFValueType.STRING:
                v = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                v = [field.parts[i].tolist()[0] for i in field.data]
            out[field.name] = {"type": "ARRAY", "element_type": et.name, "value": v}
            if digest_arrays:
                out[field.name] = {"type": "ARRAY", "element_type": et.name, "count": len(v),
                                   "sha256": array_digest(v, et.name)}
        elif t == gguf.GGUFValueType.STRING:
            out[field.name] = {"type": "STRING", "value": bytes(field.parts[-1]).decode("utf-8")}
        else:
            out[field.name] = {"type": t.name, "value": field.parts[-1].tolist()[0]}
    return out


def tensors_of(reader):
    return {t.name: {"type": t.tensor_type.name, "shape": [int(x) for x in t.shape],
                     "sha256": hashlib.sha256(t.data.tobytes()).hexdigest()} for t in reader.tensors}


def llama_cpp_reference(path, work, digest_arrays=False):
    ref = {}
    for outtype in OUTTYPES:
        out = os.path.join(work, os.path.basename(path) + "-" + outtype + ".gguf")
        subprocess.run([sys.executable, CONVERT, path, "--outfile", out, "--outtype", outtype], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = gguf.GGUFReader(out)
        with open(out, "rb") as f:
            file_sha256 = hashlib.sha256(f.read()).hexdigest()
        ref[outtype] = {"metadata": metadata_of(r, digest_arrays), "tensors": tensors_of(r), "file_sha256": file_sha256}
        os.remove(out)
    return ref


def transformers_reference(path, name, add_bos=True):
    import sentencepiece as spm
    from transformers import AutoModelForCausalLM
    sp = spm.SentencePieceProcessor(model_file=os.path.join(path, "tokenizer.model"))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    bos = 2 if name == "gemma3" else 1
    out = []
    for prompt in PROMPTS:
        ids = ([bos] if add_bos else []) + sp.encode(prompt)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float().numpy()
            gen = model.generate(torch.tensor([ids]), max_new_tokens=N_GREEDY, do_sample=False, min_new_tokens=N_GREEDY,
                                 pad_token_id=0)
        out.append({"prompt": prompt, "tokens": ids, "logits": [float(x) for x in logits],
                    "greedy": [int(x) for x in gen[0, len(ids):]]})
    return out


def bpe_unknown_reference(work):
    """A byte-level BPE vocabulary of no known family (300 tokens trained here on Genesis with
    GPT-2's split), committed as tests/data/checkpoints/bpe-unknown-tokenizer.json; with the
    tiny llama's weights beside it llama.cpp's converter refuses it and names its check-text
    hash, which natter must name too."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok_path = os.path.join(OUT_DATA, "bpe-unknown-tokenizer.json")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    tok.train([os.path.join(ROOT, "tests", "data", "genesis-kjv.txt")], trainer)
    tok.save(tok_path)
    path = os.path.join(work, "bpe-unknown")
    os.makedirs(path)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(OUT_DATA, "llama", f), path)
    shutil.copy(tok_path, os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, f)
    p = subprocess.run([sys.executable, CONVERT, path, "--outfile", os.path.join(work, "x.gguf"), "--outtype", "f32"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "BPE pre-tokenizer was not recognized" in p.stderr, p.stderr[-2000:]
    import re
    return {"chkhsh": re.search(r"chkhsh:\s+([0-9a-f]{64})", p.stderr).group(1)}


SMOLLM2_GGUF = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def smollm2_reference(work):
    """The default model written back as a checkpoint (smollm2_to_safetensors.py, which the tests
    run too): llama.cpp's conversions of it (arrays as digests, the files are large) and
    transformers' logits on it, the logits in smollm2-logits.f32 (float32, prompt after prompt)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    path = os.path.join(work, "SmolLM2-135M-Instruct")
    subprocess.run([sys.executable, os.path.join(HERE, "smollm2_to_safetensors.py"), SMOLLM2_GGUF, path], check=True)
    ref = {"llama_cpp": llama_cpp_reference(path, work, digest_arrays=True), "transformers": []}
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    logits_all = []
    for prompt in ["The capital of France is", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"]:
        ids = tok.encode(prompt)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float().numpy()
            gen = model.generate(torch.tensor([ids]), max_new_tokens=N_GREEDY, do_sample=False, min_new_tokens=N_GREEDY,
                                 pad_token_id=2)
        logits_all.append(logits.astype("<f4"))
        ref["transformers"].append({"prompt": prompt, "tokens": ids, "greedy": [int(x) for x in gen[0, len(ids):]]})
    np.concatenate(logits_all).tofile(os.path.join(OUT_REF, "smollm2-logits.f32"))
    return ref


def main():
    os.makedirs(OUT_DATA, exist_ok=True)
    os.makedirs(OUT_REF, exist_ok=True)
    refs_only = "--refs-only" in sys.argv  # the committed checkpoints as they are
    only = set(sys.argv[1:]) - {"--refs-only"}
    with tempfile.TemporaryDirectory() as work:
        for seed, (name, spec) in enumerate(families().items()):
            if only and name not in only:
                continue
            path = os.path.join(OUT_DATA, name) if refs_only else write_checkpoint(name, spec, 1000 + seed)
            ref = {"llama_cpp": llama_cpp_reference(path, work), "transformers": transformers_reference(path, name)}
            with open(os.path.join(OUT_REF, name + ".json"), "w") as f:
                json.dump(ref, f, indent=1, sort_keys=True)
            print(name, sorted(os.listdir(path)))
        if not only or "bpe-unknown" in only:
            with open(os.path.join(OUT_REF, "bpe-unknown.json"), "w") as f:
                json.dump(bpe_unknown_reference(work), f, indent=1)
        if not only or "smollm2" in only:
            with open(os.path.join(OUT_REF, "smollm2.json"), "w") as f:
                json.dump(smollm2_reference(work), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
