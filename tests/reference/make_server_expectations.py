#!/usr/bin/env python3
"""Captures the shape of llama-server's responses into tests/reference/server_expectations.json.

The shape of a response is its JSON with every value replaced by its type ("string",
"integer", "number", "boolean", "null"), objects key by key, arrays by their first element.
tests/server/server_e2e.py checks that natter serve answers the same requests with the same
keys and types (it may add keys of its own, such as the legacy stopped_eos / stopped_limit /
stopped_word). Only the output is committed: CI has no llama.cpp.

The server is llama.cpp's as scripts/setup-reference builds it (llama-cpp-python 0.3.36's
vendored tree), run on the default model with --no-repack: that native build's AMX kernels,
used for repacked weights, stop on an illegal instruction on this machine's KVM guest (the
shapes do not depend on the kernels).

Usage: tests/reference/make_server_expectations.py [LLAMA_SERVER] [MODEL]
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "natter"
SERVER = sys.argv[1] if len(sys.argv) > 1 else str(CACHE / "llamacpp/build/bin/llama-server")
MODEL = sys.argv[2] if len(sys.argv) > 2 else str(CACHE / "models/SmolLM2-135M-Instruct.Q4_1.gguf")


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sse_events(text):
    """The data: lines of a server-sent event stream, JSON-decoded ([DONE] kept as a string)."""
    out = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def stream_shapes(events):
    """First, a middle and the last JSON event's shape, and whether [DONE] ends the stream."""
    objs = [e for e in events if e != "[DONE]"]
    return {"first": shape(objs[0]), "chunk": shape(objs[1]), "last": shape(objs[-1]),
            "done_marker": bool(events) and events[-1] == "[DONE]"}


def main():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([SERVER, "-m", MODEL, "--host", "127.0.0.1", "--port", str(port), "-c", "2048",
                             "-np", "1", "-t", "1", "--no-repack", "--metrics"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if request(base, "/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        out = {"server": "llama-server from llama-cpp-python 0.3.36 (scripts/setup-reference), --no-repack"}
        completion = {"prompt": "The capital of France is", "n_predict": 8, "temperature": 0}
        status, text = request(base, "/completion", completion)
        out["completion"] = shape(json.loads(text))
        status, text = request(base, "/completion", {**completion, "stream": True})
        out["completion_stream"] = stream_shapes(sse_events(text))
        status, text = request(base, "/completion", {**completion, "n_probs": 3})
        out["completion_n_probs"] = shape(json.loads(text))["completion_probabilities"]
        chat = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
        status, text = request(base, "/v1/chat/completions", chat)
        out["chat"] = shape(json.loads(text))
        status, text = request(base, "/v1/chat/completions", {**chat, "stream": True})
        out["chat_stream"] = stream_shapes(sse_events(text))
        status, text = request(base, "/v1/completions", completion | {"max_tokens": 8})
        out["v1_completions"] = shape(json.loads(text))
        status, text = request(base, "/v1/completions", completion | {"max_tokens": 8, "stream": True})
        out["v1_completions_stream"] = stream_shapes(sse_events(text))
        out["models"] = shape(json.loads(request(base, "/v1/models")[1]))
        out["props"] = shape(json.loads(request(base, "/props")[1]))
        out["health"] = shape(json.loads(request(base, "/health")[1]))
        out["slots"] = shape(json.loads(request(base, "/slots")[1]))
        out["tokenize"] = shape(json.loads(request(base, "/tokenize", {"content": "Hello world"})[1]))
        out["tokenize_with_pieces"] = shape(json.loads(
            request(base, "/tokenize", {"content": "Hello world", "with_pieces": True})[1]))
        out["detokenize"] = shape(json.loads(request(base, "/detokenize", {"tokens": [19556, 905]})[1]))
        status, text = request(base, "/completion", raw=b"{not json")
        out["error_malformed_json"] = {"status": status, "shape": shape(json.loads(text))}
        metrics = request(base, "/metrics")[1]
        out["metrics"] = sorted({line.split()[0].split("{")[0] for line in metrics.splitlines()
                                 if line and not line.startswith("#")})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    path = HERE / "server_expectations.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
