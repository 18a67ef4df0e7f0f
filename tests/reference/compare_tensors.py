#!/usr/bin/env python3
"""Compares natter's intermediate tensors with llama.cpp's, tensor by tensor, to find where
the two forward passes first part.

  NATTER_DUMP_DIR=/tmp/ours natter run -m MODEL -p "text" -n 3 --temp 0 -t 2
  dump_llamacpp_tensors.py MODEL "text" /tmp/theirs --steps 2
  compare_tensors.py /tmp/ours /tmp/theirs [--step prompt] [--all]

For every tensor natter wrote (same file names as llama.cpp's graph nodes), prints the
largest absolute difference and how many elements differ at all, in graph order; without
--all it stops after the first ten tensors that are not bit-identical. Where natter has fewer
rows (the last layer runs only the output row) the last rows of llama.cpp's are compared.
"""
import argparse
import os
import re
import sys

import numpy as np

ORDER = ["attn_norm", "Qcur", "Kcur", "Vcur", "Qcur#2", "Kcur#2", "kqv_out", "attn_out", "ffn_inp",
         "ffn_norm", "ffn_gate", "ffn_up", "ffn_swiglu", "ffn_out", "l_out"]


def sort_key(name):
    m = re.match(r"(.+)-(\d+)(#\d+)?$", name)
    if not m:
        return (10**6, 0, name)  # result_norm, result_output at the end
    base = m.group(1) + (m.group(3) or "")
    return (int(m.group(2)), ORDER.index(base) if base in ORDER else len(ORDER), name)


def compare_step(ours_dir, theirs_dir, show_all):
    names = sorted((f[:-4] for f in os.listdir(ours_dir) if f.endswith(".npy")), key=sort_key)
    shown_bad = 0
    for name in names:
        theirs_path = os.path.join(theirs_dir, name + ".npy")
        if not os.path.exists(theirs_path):
            print(f"  {name:<22} (llama.cpp has no such tensor)")
            continue
        ours = np.load(os.path.join(ours_dir, name + ".npy")).astype(np.float32)
        theirs = np.load(theirs_path).astype(np.float32)
        a = ours.reshape(ours.shape[0], -1) if ours.ndim > 1 else ours.reshape(1, -1)
        b = theirs.reshape(-1, a.shape[1])[-a.shape[0]:]
        diff = np.abs(a - b)
        differing = int(np.count_nonzero(a.view(np.uint32) != b.view(np.uint32)))
        status = "identical" if differing == 0 else f"{differing} of {a.size} differ"
        print(f"  {name:<22} max|diff| {float(diff.max()):.3g}  {status}")
        if differing:
            shown_bad += 1
            if shown_bad >= 10 and not show_all:
                print("  ...")
                return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--step", help="only this step (prompt, gen0, ...)")
    ap.add_argument("--all", action="store_true", help="do not stop after ten differing tensors")
    args = ap.parse_args()
    steps = [args.step] if args.step else sorted(os.listdir(args.ours), key=lambda s: (s != "prompt", s))
    for step in steps:
        if not os.path.isdir(os.path.join(args.ours, step)):
            continue
        print(step)
        compare_step(os.path.join(args.ours, step), os.path.join(args.theirs, step), args.all)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head
        sys.exit(0)
