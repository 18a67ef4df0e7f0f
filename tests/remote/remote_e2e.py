#!/usr/bin/env python3
"""natter chat --remote and natter run --remote end to end, with real sockets on loopback.

Remote (needs the default model): against `natter serve`, a multi-turn line-mode chat (with
/system, /regen, /undo, /edit) prints exactly what the same chat prints on the local model, at
temperature 0, token for token; so does `natter run`. The transcript names the server's model
and URL and holds the server's usage counts; the API key is nowhere: not in `ps` (the process's
/proc/PID/cmdline), the transcript, or the server's log. A server killed mid-stream: one
sentence, the partial reply kept, the next message a connection-refused sentence, the chat goes on.

Failures (no model): a scripted OpenAI-compatible server in this process answers 401, 404
model, 429 with Retry-After, 503, cuts a stream midway or stalls it; a listener that never
answers, a closed port, an unknown host, https to a plain server, a self-signed certificate.
Each is one sentence, the chat keeps its conversation, and /regen afterwards succeeds.
Ctrl-C (SIGINT) ends a stalled stream at once and keeps the partial reply. /set and /system
reach the next request; /template and /prompt say that templates are the server's job.

Usage: remote_e2e.py --natter BUILD/natter [unittest arguments]
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
import server_e2e  # noqa: E402  (its natter serve harness)
from server_e2e import MODEL, free_port  # noqa: E402

KEY = "sk-remote-test-7f3a9c"
NATTER = None


class Sandbox:
    """Private XDG folders, so no test reads or writes the user's sessions or history."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="natter-remote-"))
        self.env = dict(os.environ, XDG_DATA_HOME=str(self.dir / "data"), XDG_CONFIG_HOME=str(self.dir / "config"),
                        XDG_STATE_HOME=str(self.dir / "state"))
        for k in ("NATTER_API_KEY", "OPENAI_API_KEY"):
            self.env.pop(k, None)

    def chat(self, args, stdin, timeout=240, env=None):
        return subprocess.run([NATTER, "chat", "--line", *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, env=env or self.env)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class NatterServe(server_e2e.Server):
    """natter serve on a free loopback port (tests/server's harness); its log in .stderr."""

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


# --- against natter serve ------------------------------------------------------------------

CONVERSATION = "\n".join([
    "What is the capital of France?",
    "And what is the capital of Germany?",
    "/system You are a helpful assistant who answers in one sentence.",
    "Name a fruit that is yellow.",
    "/regen",
    "/undo",
    "Name a red fruit.",
    "/edit Name a green vegetable.",
]) + "\n"
SAMPLING = ["--temp", "0", "-n", "40", "--repeat-penalty", "1.1"]


@unittest.skipUnless(MODEL.exists(), f"the default model is not in {MODEL} (scripts/setup fetches it)")
class Remote(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = Sandbox()
        # Flash attention off on both sides: with it on, a position's attention depends on the
        # batch it was evaluated in (ggml's 64-row tiles in F32 against one row at a time in
        # F16, llama.cpp's own numerics), and after /system the server's prompt cache and the
        # chat's KV reuse evaluate the conversation in different batches. Off, every row's
        # result is its own, so the two must agree token for token.
        cls.server = NatterServe("-np", "1", "-c", "2048", "--api-key", KEY, "-fa", "off")
        cls.keyfile = cls.box.dir / "key"
        cls.keyfile.write_text(KEY + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.box.close()

    def remote_args(self):
        return ["--remote", self.server.url, "--api-key-file", str(self.keyfile)]

    def test_a_multi_turn_chat_equals_the_local_one_token_for_token(self):
        local = self.box.chat(["-m", str(MODEL), "-t", "1", "-c", "2048", "-fa", "off", *SAMPLING], CONVERSATION)
        transcript = self.box.dir / "remote.json"
        remote = self.box.chat([*self.remote_args(), *SAMPLING, "-v"], CONVERSATION + f"/save {transcript}\n")
        self.assertEqual(local.returncode, 0, local.stderr)
        self.assertEqual(remote.returncode, 0, remote.stderr)
        replies = [r for r in local.stdout.split("\n") if r.strip()]
        self.assertGreaterEqual(len(replies), 5, local.stdout)
        self.assertIn("Paris", local.stdout)
        self.assertEqual(remote.stdout, local.stdout)
        # The per-reply numbers are the server's usage counts.
        self.assertIn("tokens/s", remote.stderr)
        t = json.loads(transcript.read_text())
        self.assertEqual(t["model"]["path"], self.server.url)
        self.assertEqual(t["model"]["quant"], "remote")
        self.assertTrue(t["model"]["name"], t["model"])
        self.assertEqual(t["system_prompt"], "You are a helpful assistant who answers in one sentence.")
        assistant = [m for m in t["messages"] if m["role"] == "assistant"]
        self.assertEqual(len(assistant), 3)  # the fruit exchange was undone, the red fruit edited
        for m in assistant:
            self.assertGreater(m["tokens"]["prompt"], 10, m)
            self.assertGreater(m["tokens"]["completion"], 0, m)
        self.assertEqual(t["messages"][-2]["text"], "Name a green vegetable.")
        self.assertNotIn(KEY, transcript.read_text())

    def test_natter_run_equals_the_local_completion(self):
        args = ["run", "-p", "The capital of France is", "-n", "24", "--temp", "0"]
        local = subprocess.run([NATTER, *args, "-m", str(MODEL), "-t", "1", "-fa", "off"], capture_output=True, text=True,
                               timeout=120)
        remote = subprocess.run([NATTER, *args, *self.remote_args()], capture_output=True, text=True, timeout=120)
        self.assertEqual(local.returncode, 0, local.stderr)
        self.assertEqual(remote.returncode, 0, remote.stderr)
        self.assertIn("Paris", local.stdout)
        self.assertEqual(remote.stdout, local.stdout)
        self.assertIn("generation 24 tokens", remote.stderr)

    def test_the_key_is_not_in_ps_the_transcript_or_the_log(self):
        transcript = self.box.dir / "key-check.json"
        proc = subprocess.Popen([NATTER, "chat", "--line", "--remote", self.server.url, "--api-key", KEY, "--temp", "0", "-n", "8"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.box.env)
        cmdline = ""
        deadline = time.time() + 30
        while time.time() < deadline and "xxxx" not in cmdline:  # the key is hidden once parsed
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
            time.sleep(0.02)
        ps = ""  # what ps prints is /proc/PID/cmdline; a machine without procps checks that alone
        if shutil.which("ps"):
            ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(proc.pid)], capture_output=True, text=True).stdout
        out, err = proc.communicate(f"Hello!\n/save {transcript}\n", timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("--api-key", cmdline)
        self.assertNotIn(KEY, cmdline)
        self.assertNotIn(KEY, ps)
        self.assertTrue(out.strip(), err)
        self.assertNotIn(KEY, transcript.read_text() + out + err)
        self.assertNotIn(KEY, "".join(self.server.stderr))
        # The environment works as well; a wrong key is one sentence and exit status 1.
        env = dict(self.box.env, NATTER_API_KEY=KEY)
        ok = self.box.chat(["--remote", self.server.url, "-n", "4"], "Hi\n", env=env)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(ok.stdout.strip())
        bad = self.box.chat(["--remote", self.server.url], "Hi\n", env=dict(self.box.env, OPENAI_API_KEY="wrong-key"))
        self.assertEqual(bad.returncode, 1)
        self.assertEqual(bad.stderr.count("\n"), 1, bad.stderr)
        self.assertIn("refused the API key (HTTP 401", bad.stderr)
        self.assertNotIn("wrong-key", bad.stderr)

    def test_a_server_killed_mid_stream_keeps_the_partial_reply(self):
        server = NatterServe("-np", "1", "-c", "2048")
        transcript = self.box.dir / "killed.json"
        proc = subprocess.Popen([NATTER, "chat", "--line", "--remote", server.url, "--temp", "0", "-n", "1500", "--save"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.box.env)
        proc.stdin.write(b"Write a very long story about a dragon.\n")
        proc.stdin.flush()
        first = proc.stdout.read(20)  # the reply is streaming
        server.kill()
        proc.stdin.write(f"Are you there?\n/save {transcript}\n".encode())
        out, err = proc.communicate(timeout=60)
        err = err.decode()
        self.assertEqual(proc.returncode, 0, err)
        self.assertTrue(first)
        errors = [line for line in err.splitlines() if "error:" in line]
        self.assertEqual(len(errors), 2, err)
        self.assertIn("broke in the middle of the reply; the chat is kept and /regen tries again.", errors[0])
        self.assertIn("connection was refused", errors[1])
        t = json.loads(transcript.read_text())
        self.assertEqual([m["role"] for m in t["messages"]], ["user", "assistant", "user", "assistant"])
        partial = t["messages"][1]
        self.assertTrue(partial["interrupted"])
        self.assertEqual(partial["stop_reason"], "error")
        self.assertTrue(partial["text"].startswith(first.decode(errors="ignore")[:10]), partial["text"])


# --- a scripted server for the failures ----------------------------------------------------

def chunk(text=None, finish=None, usage=None):
    delta = {"content": text} if text is not None else {}
    j = {"id": "c1", "object": "chat.completion.chunk", "model": "fake-model",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        j["usage"] = usage
    return b"data: " + json.dumps(j).encode() + b"\n\n"


class Scripted(http.server.BaseHTTPRequestHandler):
    """GET /v1/models lists fake-model; each chat request takes the next behaviour."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        self.send_json(404, {"error": {"message": "no such path", "type": "not_found_error"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        behaviour = self.server.script.pop(0) if self.server.script else "ok"
        err = lambda status, msg, headers=(): self.send_json(status, {"error": {"message": msg, "code": status}}, headers)
        if behaviour == "401":
            return err(401, "Invalid API Key")
        if behaviour == "404":
            return err(404, "The model `fake-model` does not exist.")
        if behaviour == "429":
            return err(429, "Too many requests", [("Retry-After", "7")])
        if behaviour == "503":
            return err(503, "The engine is overloaded")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(chunk("Hello "))
        self.wfile.flush()
        if behaviour == "cut":
            self.wfile.write(chunk("the"))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "stall":
            time.sleep(self.server.stall_seconds)
            return
        self.wfile.write(chunk("there."))
        self.wfile.write(chunk(finish="stop", usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class FakeServer:
    def __init__(self, script=(), tls_context=None):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        self.httpd.daemon_threads = True
        self.httpd.script = list(script)
        self.httpd.requests = []
        self.httpd.stall_seconds = 6
        if tls_context:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        scheme = "https" if tls_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Failures(unittest.TestCase):
    def setUp(self):
        self.box = Sandbox()

    def tearDown(self):
        self.box.close()

    def chat_through(self, script, extra=(), stdin="hi\n/regen\n"):
        server = FakeServer(script)
        try:
            r = self.box.chat(["--remote", server.url, "--remote-timeout", "2", *extra], stdin, timeout=60)
        finally:
            server.close()
        return r, server.httpd.requests

    def assertOneErrorThenRetried(self, r, sentence):
        self.assertEqual(r.returncode, 0, r.stderr)
        errors = [line for line in r.stderr.splitlines() if "error:" in line]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(sentence, errors[0])
        self.assertTrue(errors[0].endswith("; the chat is kept and /regen tries again."), errors[0])
        self.assertTrue(r.stdout.endswith("Hello there.\n"), r.stdout)  # /regen worked on the kept conversation

    def test_http_errors_are_one_sentence_and_regen_retries(self):
        cases = {
            "401": "The server at http://127.0.0.1:",
            "404": "has no POST /v1/chat/completions (HTTP 404: The model `fake-model` does not exist.)",
            "429": "The server is busy (HTTP 429: Too many requests); it asks to wait 7 s before trying again",
            "503": "The server failed (HTTP 503: The engine is overloaded)",
        }
        for status, sentence in cases.items():
            with self.subTest(status=status):
                r, requests = self.chat_through([status])
                self.assertOneErrorThenRetried(r, sentence)
                self.assertEqual(len(requests), 2)
                self.assertEqual(requests[1]["messages"], [{"role": "user", "content": "hi"}])
        r, _ = self.chat_through(["401"])
        self.assertIn("wants an API key (HTTP 401: Invalid API Key); give it with --api-key-file FILE or NATTER_API_KEY", r.stderr)

    def test_a_cut_stream_and_a_stalled_one(self):
        r, _ = self.chat_through(["cut"])
        self.assertOneErrorThenRetried(r, "ended before the reply was complete")
        self.assertTrue(r.stdout.startswith("Hello the\n"), r.stdout)  # the partial reply was shown and kept
        start = time.time()
        r, _ = self.chat_through(["stall"])
        self.assertOneErrorThenRetried(r, "sent nothing for 2 s (--remote-timeout), so the reply was given up")
        self.assertLess(time.time() - start, 12)

    def test_ctrl_c_ends_a_stalled_stream_at_once_and_keeps_the_partial_reply(self):
        server = FakeServer(["stall"])
        server.httpd.stall_seconds = 30
        proc = subprocess.Popen([NATTER, "chat", "--line", "--remote", server.url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.box.env)
        try:
            proc.stdin.write(b"hi\n")
            proc.stdin.flush()
            self.assertEqual(proc.stdout.read(6), b"Hello ")
            start = time.time()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(b"/regen\n", timeout=20)
        finally:
            server.close()
        self.assertLess(time.time() - start, 5)
        self.assertIn(b"reply stopped", err)
        self.assertEqual(out, b"\nHello there.\n")

    def test_settings_and_the_system_prompt_reach_the_next_request(self):
        script = "/set temp 0.3\n/set top-k 7\n/set seed 42\n/set max-tokens 9\n/system Be brief.\nhi\n/template\n/prompt\n"
        r, requests = self.chat_through([], stdin=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        body = requests[0]
        self.assertEqual((body["model"], body["top_k"], body["seed"], body["max_tokens"], body["stream"]),
                         ("fake-model", 7, 42, 9, True))
        self.assertAlmostEqual(body["temperature"], 0.3, places=6)
        self.assertEqual(body["messages"], [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        self.assertIn("Templates are the server's job for chat completions", r.stderr)
        self.assertIn("templates are the server's job for chat completions: it renders these in its own", r.stderr)
        self.assertIn("[assistant]\nHello there.", r.stderr)

    def test_the_server_has_no_such_model(self):
        server = FakeServer()
        try:
            r = self.box.chat(["--remote", server.url, "--remote-model", "llama-70b"], "hi\n", timeout=60)
        finally:
            server.close()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f'natter: error: The server at {server.url} has no model "llama-70b"; it offers: fake-model'
                                   " (--remote-model picks one).\n")

    def test_unreachable_servers_are_one_sentence(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections in the kernel, never answers
        closed = free_port()
        plain = FakeServer()
        cases = [
            (f"http://127.0.0.1:{silent.getsockname()[1]}", "sent nothing for 2 s (--remote-timeout), so the request was given up"),
            (f"http://127.0.0.1:{closed}/v1", f"Cannot connect to http://127.0.0.1:{closed}: the connection was refused"),
            ("http://no-such-host.invalid:8080/v1", "Cannot find the host no-such-host.invalid"),
            (plain.url.replace("http:", "https:"), "The TLS handshake with https://127.0.0.1:"),
            ("ftp://example.com", "must start with http:// or https://"),
            ("http://user:sk-123@127.0.0.1:1/v1", "carries a user name or key"),
        ]
        try:
            for url, sentence in cases:
                with self.subTest(url=url):
                    start = time.time()
                    r = self.box.chat(["--remote", url, "--remote-timeout", "2"], "hi\n", timeout=60)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
                    self.assertTrue(r.stderr.startswith("natter: error: "), r.stderr)
                    self.assertIn(sentence, r.stderr)
                    self.assertNotIn("sk-123", r.stderr)
                    self.assertLess(time.time() - start, 15)
        finally:
            silent.close()
            plain.close()

    def test_a_self_signed_certificate_is_refused(self):
        import ssl
        cert, key = self.box.dir / "cert.pem", self.box.dir / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server = FakeServer(tls_context=ctx)
        try:
            r = self.box.chat(["--remote", server.url, "--remote-timeout", "2"], "hi\n", timeout=60)
        finally:
            server.close()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("The TLS certificate of https://127.0.0.1:", r.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--natter", required=True)
    args, rest = parser.parse_known_args()
    NATTER = server_e2e.NATTER = os.path.abspath(args.natter)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
