#!/usr/bin/env python3
"""Regenerates the tokenizer reference vectors from llama.cpp itself (llama-cpp-python).

    ~/.cache/natter/llamacpp/venv/bin/python tests/reference/make_tokenizer_vectors.py [NAME...]

For each vocabulary it writes tests/reference/tokenizer-<name>.json with:
  vocab   - n_vocab, bos, eos, eot, add_bos, add_eos and every id llama.cpp calls
            end-of-generation (llama_vocab_is_eog);
  pieces  - an FNV-1a 64 hash over llama_token_to_piece of every token, with and without
            special rendering (each piece hashed as a 4-byte little-endian length + bytes);
  cases   - text (or {"hex": ...} when it is not valid UTF-8), add_special, parse_special,
            the ids of llama_tokenize, and for vocabularies whose llama_detokenize does not
            "clean up" spaces (all but gpt-2) the detokenized bytes with unparse_special
            on and off.
Inputs whose lead byte is F5..F7 are left out: llama.cpp aborts on them.

To reach the other pre-tokenizer families without their (large) vocabularies, the GPT-2
vocabulary is also written with tokenizer.ggml.pre set to each of PRE_VARIANTS, and those
vectors go to tokenizer-gpt2-<pre>.json (the unit test rebuilds the same files).
Needs llama-cpp-python and gguf (pip) in the interpreter that runs it.
"""
import ctypes
import json
import os
import random
import sys

import tempfile

import gguf
import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))
CACHE_MODELS = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "natter", "models")
MODELS = {
    "smollm2": (os.path.join(CACHE_MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf"), 400, True),
    # Gemma 3's 262k SentencePiece vocabulary (no space prefix, byte fallback, many specials).
    "gemma3": (os.path.join(CACHE_MODELS, "gemma-3-270m-q4_k_m.gguf"), 400, True),
    "stories260k": (os.path.join(DATA, "models", "stories260K.gguf"), 150, True),
    "llama-spm": (os.path.join(DATA, "tokenizer", "ggml-vocab-llama-spm.gguf"), 150, True),
    "gpt2": (os.path.join(DATA, "tokenizer", "ggml-vocab-gpt-2.gguf"), 150, False),
}

GPT2_PATH = MODELS["gpt2"][0]
PRE_VARIANTS = ["llama-bpe", "qwen2", "qwen35", "default", "falcon", "deepseek-coder", "starcoder"]
ALL_CONFIGS = [(False, False), (False, True), (True, True)]

FIXED_TEXTS = [
    "", " ", "Hello world", " Hello world", "Hello, world! How are you today?",
    "I'm sure you're right, they've said we'll see; he'd know. It's DON'T, I'M, YOU'RE, We'LL.",
    "The quick brown fox jumps over the lazy dog.\nThe end.",
    "你好，世界！今天天气很好。我们去公园散步吧。",
    "中文分词测试：自然语言处理",
    "こんにちは、世界。日本語のテキストです。カタカナとひらがな、漢字。",
    "안녕하세요, 세계! 한국어 텍스트입니다.",
    "Привет, мир! Ελληνικά κείμενα. مرحبا بالعالم. नमस्ते दुनिया। สวัสดีชาวโลก",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    '{"key": [1, 2.5, -3e10], "nested": {"a": null, "b": true}}',
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }  // dot product",
    "😀👍🏽 family: 👨\u200d👩\u200d👧\u200d👦 flags: 🇫🇷🇯🇵 hearts ❤️💙",
    "   ", "\t\t", "\n", "\n\n\n", " \t \n \r\n  x  \t y\n\n\n  z   ", "a    b", "trailing spaces   ",
    "\t\tindented\n\t\t\tmore\n", "line1\r\nline2\r\n\r\nline3", "  \n  \n", "mixed\u00a0nbsp\u3000ideographic\u2003em",
    "1234567890", "3.14159 and 2.71828", "1,000,000 and 42nd and 7th", "٣٤٥ ½ ²³ Ⅻ", "2024-01-15T10:30:00Z",
    "Call 555-1234 or +1 (800) 555-0199.",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "text<|endoftext|>more", "<|im_start|><|im_end|>", "<|im_start", "im_end|>",
    "<reponame>x<file_sep>y<filename>z", "<s>Hello</s> <unk>", "< s > <|im_end |>",
    "café naïve résumé Ångström", "e\u0301 a\u0308 combining", "Zwischen\u200bRaum soft\u00adhyphen",
    "Ünïcödé ÀÉÎÕÜ ß ẞ ǅ", "Math: ∑∫∂√∞ ≠ ≤ ≥ → ⇒", "Currency: $5 €10 £3 ¥100 ₿",
]

INVALID_TEXTS = [
    b"\xff\xfe", b"abc\x80def", b"\xe4\xb8", b"\xe4\xb8 x", b"\xc3(", b"\xed\xa0\x80", b"\xc0\x80",
    b"ok \xf0\x9f\x98", b"\xf0\x9f\x98\x80\x80", b"\x80\x80\x80", b"a\xffb\xfec",
]

FUZZ_ALPHABET = (list("aAzZ  \t\n\r'sStTdDmMlLrReEvV0123456789.,!?()-_\"$+<>|~`#{}[]=:;/\\@%^&*")
                 + ["é", "中", "文", "日", "本", "ｱ", "　", "\u00a0", "\u0301", "😀", "\u200b", "\u0085",
                    "½", "٣", "ß", "Ω", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>",
                    "<s>", "</s>", "   ", "\n\n", "'s", "'LL", "123", " the", "ing"])


def fuzz_texts(count, seed):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        texts.append("".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(1, 24))))
    return texts


def long_text():
    parts = FIXED_TEXTS[2:20] * 8
    return "\n".join(parts)


def fnv1a64(pieces):
    h = 0xCBF29CE484222325
    for piece in pieces:
        for b in len(piece).to_bytes(4, "little") + piece:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def as_json_bytes(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": data.hex()}


class Vocab:
    def __init__(self, path):
        self.llama = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        self.vocab = self.llama._model.vocab
        self.n = llama_cpp.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, data, add_special, parse_special):
        return self.llama.tokenize(data, add_bos=add_special, special=parse_special)

    def piece(self, token, special):
        buf = ctypes.create_string_buffer(256)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 256, 0, special)
        assert 0 <= n <= 256
        return buf.raw[:n]

    def detokenize(self, ids, unparse_special):
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        size = 64 + 64 * len(ids)
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), buf, size, False, unparse_special)
        assert 0 <= n <= size
        return buf.raw[:n]

    def summary(self):
        v = self.vocab
        return {
            "n_vocab": self.n,
            "bos": llama_cpp.llama_vocab_bos(v), "eos": llama_cpp.llama_vocab_eos(v),
            "eot": llama_cpp.llama_vocab_eot(v),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(v)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(v)),
            "eog": [i for i in range(self.n) if llama_cpp.llama_vocab_is_eog(v, i)],
        }


def gpt2_with_pre(pre, directory):
    reader = gguf.GGUFReader(GPT2_PATH)
    path = os.path.join(directory, "gpt2-%s.gguf" % pre)
    writer = gguf.GGUFWriter(path, arch=reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value = pre if field.name == "tokenizer.ggml.pre" else field.contents()
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def make(name, path, n_fuzz, with_detok, configs=ALL_CONFIGS, with_long=True):
    vocab = Vocab(path)
    inputs = [t.encode() for t in FIXED_TEXTS] + INVALID_TEXTS + ([long_text().encode()] if with_long else [])
    inputs += [t.encode() for t in fuzz_texts(n_fuzz, seed=len(name))]
    cases = []
    for data in inputs:
        for add_special, parse_special in configs:
            ids = vocab.tokenize(data, add_special, parse_special)
            case = {"text": as_json_bytes(data), "add_special": add_special,
                    "parse_special": parse_special, "ids": ids}
            if with_detok:
                case["detok_special"] = as_json_bytes(vocab.detokenize(ids, True))
                case["detok_plain"] = as_json_bytes(vocab.detokenize(ids, False))
            cases.append(case)
    result = {
        "source": "llama.cpp via llama-cpp-python %s; regenerate with %s" % (
            llama_cpp.__version__, os.path.relpath(__file__, os.path.join(HERE, "..", ".."))),
        "model": os.path.basename(path),
        "vocab": vocab.summary(),
        "pieces_fnv1a64": {
            "render_special": fnv1a64(vocab.piece(i, True) for i in range(vocab.n)),
            "plain": fnv1a64(vocab.piece(i, False) for i in range(vocab.n)),
        },
        "cases": cases,
    }
    out = os.path.join(HERE, "tokenizer-%s.json" % name)
    with open(out, "w", encoding="utf-8") as f:  # one case per line: readable diffs
        header = json.dumps({k: v for k, v in result.items() if k != "cases"}, ensure_ascii=False)
        f.write(header[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print("wrote %s: %d cases" % (out, len(cases)))


def main():
    names = sys.argv[1:] or list(MODELS) + ["gpt2-" + pre for pre in PRE_VARIANTS]
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            if name in MODELS:
                path, n_fuzz, with_detok = MODELS[name]
                make(name, path, n_fuzz, with_detok)
            else:  # the pre-tokenizer decides everything here: one configuration suffices
                path = gpt2_with_pre(name[len("gpt2-"):], directory)
                make(name, path, 200, False, configs=[(False, False)], with_long=False)


if __name__ == "__main__":
    main()
