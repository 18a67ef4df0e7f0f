#!/usr/bin/env python3
"""Reference of llama.cpp's KL-divergence statistics for the perplexity tests
(tests/unit/perplexity/kl_divergence_test.cpp): kl_divergence/smollm2-q4_1.genesis-kjv.json (apart from perplexity/, whose files perplexity_test.cpp reads one shape of).

The base is the default model (SmolLM2-135M-Instruct Q4_1); Q is it requantized by
`natter quantize --allow-requantize --pure` to Q4_0 (its tensors are llama-quantize's, tested
elsewhere; the sha256 of the file is recorded so the test knows it runs on the same one).
llama-perplexity (AVX2 ggml-cpu, -fa off) writes the base file on tests/data/genesis-kjv.txt,
4 chunks of 128 tokens, and reports on Q against it; the file's sha256 and every statistic of
the report are recorded (the base file itself is 25 MB and not committed).

Usage: ~/.cache/natter/py/bin/python tests/reference/make_kld_reference.py --natter build/natter
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from make_imatrix_reference import BIN, DATA, DEFAULT_MODEL, HERE, run, sha256

ARGS = ["-c", "128", "-b", "128", "--chunks", "4", "-t", "2", "-fa", "off"]
Q_TYPE = "Q4_0"


def llama_perplexity(args):
    done = run([os.path.join(BIN, "llama-perplexity")] + args + ARGS)
    return done.stdout + done.stderr


def statistics(report):
    stats = {}
    for line in report.splitlines():
        m = re.match(r"^(.*?):\s*(-?[\d.]+)\s*%?\s*(?:±\s*(-?[\d.]+))?\s*%?\s*$", line)
        if not m or line.startswith(("llama", "perplexity", "kl_divergence", "main", "system_info", "load", "print_info")):
            continue
        label = " ".join(m.group(1).split())
        if any(k in label for k in ("KLD", "Δp", "PPL", "top p")):
            stats[label] = [float(m.group(2))] + ([float(m.group(3))] if m.group(3) else [])
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        q = os.path.join(tmp, "smollm2-q4_0.gguf")
        subprocess.run([a.natter, "quantize", "--allow-requantize", "--pure", "--quiet", DEFAULT_MODEL, q, Q_TYPE], check=True)
        base = os.path.join(tmp, "base.kld")
        text = os.path.join(DATA, "genesis-kjv.txt")
        llama_perplexity(["-m", DEFAULT_MODEL, "-f", text, "--kl-divergence-base", base])
        report = llama_perplexity(["-m", q, "--kl-divergence-base", base, "--kl-divergence"])
        stats = statistics(report)
        if len(stats) < 30:
            sys.exit("could not read the report:\n" + report[-3000:])
        doc = {"generator": "tests/reference/make_kld_reference.py",
               "made_by": "llama-perplexity " + " ".join(ARGS) + " (AVX2 ggml-cpu): --kl-divergence-base on the default "
                          "model, then --kl-divergence on Q",
               "text": "genesis-kjv.txt", "n_ctx": 128, "chunks": 4, "q_type": Q_TYPE,
               "q_sha256": sha256(q), "base_sha256": sha256(base), "base_bytes": os.path.getsize(base),
               "statistics": stats}
        with open(os.path.join(HERE, "kl_divergence", "smollm2-q4_1.genesis-kjv.json"), "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
        print(json.dumps(stats, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
