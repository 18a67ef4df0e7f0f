#!/usr/bin/env python3
"""Dumps llama.cpp's intermediate tensors (attn_norm-0, Qcur-0, kq_soft_max-0, ffn_out-0,
l_out-0, result_norm, result_output, ...) for one prompt, so that natter's forward pass can
be compared with it tensor by tensor (tests/reference/compare_tensors.py; natter writes its
own with NATTER_DUMP_DIR set, see inference/tensor_dump.h).

The context is made exactly as make_engine_reference.py makes it (n_ctx 512, 2 threads,
no flash attention): the eval callback is hooked into llama-cpp-python's default context
parameters, so the same kernels run as in the references.

Each tensor is written as DIR/<step>/<name>.npy in ggml's logical shape, reversed into numpy
order ([ne3][ne2][ne1][ne0]); a name that occurs twice in one graph (Qcur before and after
RoPE) gets "#1", "#2"... on the later ones. Step "prompt" is the prompt evaluation, then
"gen0", "gen1"... one per greedy decoding step (--steps N).

Usage: dump_llamacpp_tensors.py MODEL.gguf "prompt text" OUT_DIR [--steps N]
Runs in the venv that scripts/setup-reference builds (llama-cpp-python 0.3.36).
"""
import argparse
import ctypes
import os
import sys

import numpy as np
import llama_cpp
import llama_cpp.llama_cpp as C

GGML_MAX_DIMS = 4
GGML_MAX_SRC = 10
GGML_MAX_NAME = 64


class GgmlTensor(ctypes.Structure):
    """Leading fields of ggml.h's struct ggml_tensor (ggml 0.25)."""
    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * GGML_MAX_DIMS),
        ("nb", ctypes.c_size_t * GGML_MAX_DIMS),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * 16),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * GGML_MAX_SRC),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * GGML_MAX_NAME),
    ]


NUMPY_TYPES = {C.GGML_TYPE_F32: np.float32, C.GGML_TYPE_F16: np.float16}


class Dumper:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.step = "prompt"
        self.seen = {}
        self.callback = C.ggml_backend_sched_eval_callback(self._callback)

    def start(self, step):
        self.step = step
        self.seen = {}
        os.makedirs(os.path.join(self.out_dir, step), exist_ok=True)

    def _callback(self, tensor_ptr, ask, _user):
        t = GgmlTensor.from_address(tensor_ptr)
        if ask:
            return t.type in NUMPY_TYPES  # observe every float tensor
        name = t.name.decode()
        if not name or not t.data:
            return True
        count = self.seen.get(name, 0)
        self.seen[name] = count + 1
        if count:
            name = f"{name}#{count}"
        dtype = NUMPY_TYPES[t.type]
        itemsize = np.dtype(dtype).itemsize
        shape = tuple(reversed([int(n) for n in t.ne]))
        strides = tuple(reversed([int(s) for s in t.nb]))
        span = sum((n - 1) * s for n, s in zip(shape, strides)) + itemsize
        raw = np.ctypeslib.as_array((ctypes.c_uint8 * span).from_address(t.data))
        array = np.lib.stride_tricks.as_strided(raw.view(dtype), shape=shape, strides=strides)
        np.save(os.path.join(self.out_dir, self.step, name.replace("/", "_") + ".npy"),
                np.ascontiguousarray(array))
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("prompt")
    ap.add_argument("out_dir")
    ap.add_argument("--steps", type=int, default=0, help="greedy decoding steps to dump as well")
    args = ap.parse_args()

    dumper = Dumper(args.out_dir)
    default_params = C.llama_context_default_params

    def hooked_params():
        params = default_params()
        params.cb_eval = dumper.callback
        return params

    C.llama_context_default_params = hooked_params
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=512, n_batch=512, n_threads=2,
                          logits_all=False, flash_attn=False, verbose=False)
    C.llama_context_default_params = default_params

    tokens = llm.tokenize(args.prompt.encode("utf-8"), add_bos=True, special=True)
    dumper.start("prompt")
    llm.eval(tokens)
    generated = []
    for step in range(args.steps):
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        token = int(np.argmax(logits))
        generated.append(token)
        dumper.start(f"gen{step}")
        llm.eval([token])
    with open(os.path.join(args.out_dir, "tokens.txt"), "w") as f:
        f.write(" ".join(map(str, tokens)) + "\n" + " ".join(map(str, generated)) + "\n")
    print(f"{len(tokens)} prompt tokens, generated {generated}; tensors in {args.out_dir}")


if __name__ == "__main__":
    sys.exit(main())
