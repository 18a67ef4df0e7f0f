#!/usr/bin/env python3
"""natter serve end to end, on loopback, with the default model and real clients.

- The openai package (the client people script against) for chat and completions, plain and
  streamed, against a server that requires an API key.
- /completion at temperature 0 gives the tokens llama.cpp's greedy decoding gave for the same
  prompt (tests/reference/engine/smollm2-q4_1-fa.json: llama.cpp with flash attention on, natter's
  default as llama.cpp's) and the text `natter run` prints.
- Two requests at once on two slots each give the text they give alone.
- Every response has the keys and types of llama-server's answer to the same request
  (tests/reference/server_expectations.json, captured by make_server_expectations.py).
- Bad input is a 4xx with OpenAI's error object, and the server stays healthy; a client that
  disconnects mid-stream frees its slot at once; --timeout ends a request with an error;
  SIGTERM with a request in flight exits 0.

Usage: server_e2e.py --natter BUILD/natter [unittest arguments]
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "reference"
sys.path.insert(0, str(REFERENCE))
# The shapes are taken as the script that captured llama-server's took them.
from make_server_expectations import free_port, shape, sse_events, stream_shapes  # noqa: E402
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "natter"
MODEL = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
KEY = "test-key-0123"
NATTER = None


class Server:
    """natter serve on a free loopback port; stderr kept for the tests to read."""

    def __init__(self, *args):
        self.port = free_port()
        self.proc = subprocess.Popen([NATTER, "serve", "-m", str(MODEL), "--port", str(self.port), "-t", "1", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("natter serve did not become healthy: " + "".join(self.stderr))

    def request(self, method, path, body=None, key=KEY, raw=None, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = "Bearer " + key
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        text = r.read().decode("utf-8")
        conn.close()
        return r.status, text

    def json(self, method, path, body=None, **kw):
        status, text = self.request(method, path, body, **kw)
        return status, json.loads(text) if text else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def missing(expected, actual, where="$"):
    """Where `actual` lacks a key of `expected` or has another type there ([] matches any list)."""
    problems = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual}"]
        for k, v in expected.items():
            if k not in actual:
                problems.append(f"{where}.{k}: missing")
            else:
                problems += missing(v, actual[k], f"{where}.{k}")
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected an array, got {actual}"]
        if expected and actual:
            problems += missing(expected[0], actual[0], where + "[0]")
    elif expected != actual and not (expected == "number" and actual == "integer"):
        problems.append(f"{where}: expected {expected}, got {actual}")
    return problems


@unittest.skipUnless(MODEL.exists(), f"the default model is not in {MODEL} (scripts/setup fetches it)")
class Serve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("-np", "2", "-c", "2048", "--api-key", KEY, "--metrics")
        cls.expect = json.loads((REFERENCE / "server_expectations.json").read_text())
        cls.engine = json.loads((REFERENCE / "engine" / "smollm2-q4_1-fa.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assertShape(self, name, actual):
        problems = missing(self.expect[name], shape(actual))
        self.assertEqual(problems, [], f"{name} differs from llama-server's")

    # --- what a real client sees ---

    def test_openai_client_chat_and_completions_plain_and_streamed(self):
        import openai
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{self.server.port}/v1", api_key=KEY)
        messages = [{"role": "user", "content": "What is the capital of France?"}]
        chat = client.chat.completions.create(model="default", messages=messages, max_tokens=24, temperature=0)
        text = chat.choices[0].message.content
        self.assertIn("Paris", text)
        self.assertEqual(chat.choices[0].message.role, "assistant")
        self.assertIn(chat.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens)
        stream = client.chat.completions.create(model="default", messages=messages, max_tokens=24, temperature=0,
                                                stream=True, stream_options={"include_usage": True})
        pieces, finish, usage = [], None, None
        for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
            usage = chunk.usage or usage
        self.assertEqual("".join(pieces), text, "the stream differs from the plain reply")
        self.assertEqual(finish, chat.choices[0].finish_reason)
        self.assertEqual(usage.completion_tokens, chat.usage.completion_tokens)
        done = client.completions.create(model="default", prompt="The capital of France is", max_tokens=8, temperature=0)
        self.assertEqual(done.choices[0].finish_reason, "length")
        self.assertEqual(done.usage.completion_tokens, 8)
        streamed = "".join(c.choices[0].text for c in client.completions.create(
            model="default", prompt="The capital of France is", max_tokens=8, temperature=0, stream=True))
        self.assertEqual(streamed, done.choices[0].text)
        self.assertEqual([m.id for m in client.models.list()], [str(MODEL)])

    def test_greedy_completion_is_llama_cpps_and_natter_runs(self):
        case = next(c for c in self.engine["cases"] if c["name"] == "capital")
        n = 32
        status, r = self.server.json("POST", "/completion", {"prompt": case["prompt_tokens"], "n_predict": n,
                                                              "temperature": 0, "return_tokens": True,
                                                              "cache_prompt": False})
        self.assertEqual(status, 200, r)
        self.assertEqual(r["tokens"], case["generated"][:n], "greedy tokens differ from llama.cpp's")
        self.assertEqual(r["tokens_predicted"], n)
        self.assertTrue(r["stopped_limit"])
        self.assertEqual(r["stop_type"], "limit")
        run = subprocess.run([NATTER, "run", "-m", str(MODEL), "-p", case["prompt"], "-n", str(n), "--temp", "0",
                              "--repeat-penalty", "1", "--no-display-prompt", "-t", "1"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(r["content"], run.stdout.removesuffix("\n"), "the server's text differs from natter run's")
        # The same prompt as text: tokenized as llama-server does, the same continuation.
        status, t = self.server.json("POST", "/completion", {"prompt": case["prompt"], "n_predict": n, "temperature": 0})
        self.assertEqual(t["content"], r["content"])

    def test_two_slots_at_once_give_what_each_gives_alone(self):
        # The third waits for a slot and its prompt (70 tokens) joins the others' decode steps.
        prompts = ["Once upon a time", "The three primary colors are",
                   "Here is a long list of things to remember before a trip: passport, tickets, charger, "
                   "toothbrush, socks, a book, sunglasses, water, snacks, keys, wallet, phone, headphones, "
                   "a jacket, medicine, and finally"]
        body = lambda p: {"prompt": p, "n_predict": 24, "temperature": 0, "cache_prompt": False}
        alone = [self.server.json("POST", "/completion", body(p))[1]["content"] for p in prompts]
        together = [None] * len(prompts)

        def worker(i):
            together[i] = self.server.json("POST", "/completion", body(prompts[i]))[1]
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r["content"] for r in together], alone)
        self.assertEqual({r["id_slot"] for r in together} <= {0, 1}, True)
        status, metrics = self.server.request("GET", "/metrics")
        busy = float(next(l.split()[1] for l in metrics.splitlines() if l.startswith("llamacpp:n_busy_slots_per_decode ")))
        self.assertGreater(busy, 1.0, "no decode step ran two slots together")

    def test_a_shared_prefix_is_evaluated_once(self):
        prompt = "Here is a list of ten fruits: apple, banana, cherry,"
        self.server.json("POST", "/completion", {"prompt": prompt, "n_predict": 4, "temperature": 0})
        status, r = self.server.json("POST", "/completion", {"prompt": prompt + " date,", "n_predict": 4, "temperature": 0})
        self.assertGreater(r["timings"]["cache_n"], 10)
        self.assertEqual(r["timings"]["prompt_n"], r["tokens_evaluated"] - r["timings"]["cache_n"])

    # --- llama-server's keys and types ---

    def test_responses_have_llama_servers_keys_and_types(self):
        s = self.server
        completion = {"prompt": "The capital of France is", "n_predict": 8, "temperature": 0}
        self.assertShape("completion", s.json("POST", "/completion", completion)[1])
        events = sse_events(s.request("POST", "/completion", {**completion, "stream": True})[1])
        self.assertEqual(missing(self.expect["completion_stream"], stream_shapes(events)), [])
        probs = s.json("POST", "/completion", {**completion, "n_probs": 3})[1]["completion_probabilities"]
        self.assertEqual(missing(self.expect["completion_n_probs"], shape(probs)), [])
        self.assertEqual(len(probs), 8)
        self.assertEqual([len(p["top_logprobs"]) for p in probs], [3] * 8)
        # At temperature 0 the chosen token is the most probable one.
        self.assertEqual([p["id"] for p in probs], [p["top_logprobs"][0]["id"] for p in probs])
        chat = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
        self.assertShape("chat", s.json("POST", "/v1/chat/completions", chat)[1])
        events = sse_events(s.request("POST", "/v1/chat/completions", {**chat, "stream": True})[1])
        self.assertEqual(missing(self.expect["chat_stream"], stream_shapes(events)), [])
        v1 = {**completion, "max_tokens": 8}
        self.assertShape("v1_completions", s.json("POST", "/v1/completions", v1)[1])
        events = sse_events(s.request("POST", "/v1/completions", {**v1, "stream": True})[1])
        self.assertEqual(missing(self.expect["v1_completions_stream"], stream_shapes(events)), [])
        for name, path in (("models", "/v1/models"), ("props", "/props"), ("health", "/health"), ("slots", "/slots")):
            self.assertShape(name, s.json("GET", path)[1])
        self.assertShape("tokenize", s.json("POST", "/tokenize", {"content": "Hello world"})[1])
        self.assertShape("tokenize_with_pieces", s.json("POST", "/tokenize", {"content": "Hello world", "with_pieces": True})[1])
        self.assertShape("detokenize", s.json("POST", "/detokenize", {"tokens": [19556, 905]})[1])
        metrics = s.request("GET", "/metrics")[1]
        names = {l.split()[0] for l in metrics.splitlines() if l and not l.startswith("#")}
        # natter has no speculative decoding, so no spec_decode counters.
        wanted = {n for n in self.expect["metrics"] if not n.startswith("llamacpp:spec_decode")}
        self.assertEqual(wanted - names, set())

    def test_tokenize_and_detokenize_round_trip(self):
        status, r = self.server.json("POST", "/tokenize", {"content": "Hello world"})
        self.assertEqual(r["tokens"], [19556, 905])
        self.assertEqual(self.server.json("POST", "/detokenize", {"tokens": r["tokens"]})[1]["content"], "Hello world")

    # --- bad input ---

    def assertRefused(self, status_and_body, status, words):
        got, body = status_and_body
        self.assertEqual(got, status, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], status)
        self.assertIn(words, err["message"])
        self.assertIsInstance(err["type"], str)

    def test_bad_requests_are_4xx_with_a_clear_message_and_the_server_stays_healthy(self):
        s = self.server
        self.assertRefused(s.request("POST", "/completion", raw="{not json"), 400, "not valid JSON")
        self.assertRefused(s.request("POST", "/completion", raw="[1, 2]"), 400, "must be a JSON object")
        self.assertRefused(s.request("POST", "/completion", raw=b'{"prompt": "caf\xff"}'), 400, "not valid JSON")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x", "temperature": "hot"}), 400,
                           "'temperature' must be a number, not a string")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x", "n_predict": 1.5}), 400, "'n_predict' must be an integer")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x", "stream": "yes"}), 400, "'stream' must be a boolean")
        self.assertRefused(s.request("POST", "/completion", {"prompt": 42}), 400, "'prompt' must be a string")
        self.assertRefused(s.request("POST", "/completion", {"prompt": [1, 999999]}), 400, "not a token id")
        self.assertRefused(s.request("POST", "/completion", {"n_predict": 4}), 400, "no 'prompt'")
        self.assertRefused(s.request("POST", "/completion", {"prompt": ""}), 400, "The prompt is empty")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "word " * 1500}), 400,
                           "does not fit in a slot's context of 1024 tokens")
        self.assertRefused(s.request("POST", "/v1/chat/completions", {"messages": []}), 400, "'messages' must be")
        self.assertRefused(s.request("POST", "/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]}),
                           400, "'role' must be")
        self.assertRefused(s.request("POST", "/completion", raw="{" + " " * (9 << 20) + "}"), 413, "larger than")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x"}, key="wrong"), 401, "Invalid API Key")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x"}, key=None), 401, "Invalid API Key")
        self.assertRefused(s.request("GET", "/nowhere"), 404, "no endpoint GET /nowhere")
        # An unknown field is refused by name (as OpenAI's API does), a sampler natter has not is
        # refused unless it is off, and an absurd n_predict is capped by the context.
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x", "no_such_field": 1}), 400,
                           "does not know: 'no_such_field'")
        self.assertRefused(s.request("POST", "/completion", {"prompt": "x", "mirostat": 2}), 400,
                           "'mirostat' is not supported by natter serve")
        import openai
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{s.port}/v1", api_key=KEY)
        with self.assertRaises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}], max_tokens=2,
                                           extra_body={"frobnicate": True})
        self.assertIn("does not know: 'frobnicate'", str(refused.exception))
        status, r = s.json("POST", "/completion", {"prompt": "Hi", "n_predict": 10 ** 9, "temperature": 0,
                                                   "mirostat": 0, "stop": ["."]})
        self.assertEqual(status, 200, r)
        self.assertEqual(s.request("GET", "/health")[0], 200)
        self.assertNotIn(KEY, "".join(s.stderr), "the API key was logged")

    def test_a_hundred_malformed_requests_leave_the_server_healthy(self):
        import random
        rng = random.Random(14)
        good = json.dumps({"prompt": "Hello", "n_predict": 2, "temperature": 0.5, "stop": ["x"]})
        for i in range(100):
            cut = list(good.encode())
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(cut))
                cut[pos] = rng.choice(b'{}[]",:0\\\xff\x00 ')
            status, body = s_status = self.server.request("POST", "/completion", raw=bytes(cut))
            self.assertIn(status, (200, 400), f"request {i}: {bytes(cut)!r} -> {s_status}")
            if status == 400:
                self.assertIn("message", json.loads(body)["error"])
        self.assertEqual(self.server.request("GET", "/health")[0], 200)

    def test_a_client_that_disconnects_mid_stream_frees_its_slot(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        body = json.dumps({"prompt": "Count from one to a thousand:", "n_predict": 900, "ignore_eos": True, "stream": True})
        sock.sendall((f"POST /completion HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
        received = b""
        while received.count(b"data: ") < 3:
            received += sock.recv(4096)
        sock.close()
        gone = time.time()
        while time.time() - gone < 2:
            slots = self.server.json("GET", "/slots")[1]
            if not any(sl["is_processing"] for sl in slots):
                break
            time.sleep(0.02)
        self.assertFalse(any(sl["is_processing"] for sl in slots), "the slot still generates for a client that left")
        self.assertLess(max(sl["next_token"][0]["n_decoded"] for sl in slots), 300)


@unittest.skipUnless(MODEL.exists(), f"the default model is not in {MODEL} (scripts/setup fetches it)")
class Lifecycle(unittest.TestCase):
    def test_timeout_ends_a_request_with_an_error(self):
        server = Server("-np", "1", "-c", "2048", "--timeout", "1")
        try:
            started = time.time()
            status, body = server.request("POST", "/completion", {"prompt": "Go on forever:", "n_predict": 1500,
                                                                 "ignore_eos": True}, key=None)
            self.assertEqual(status, 408, body)
            self.assertIn("--timeout", json.loads(body)["error"]["message"])
            self.assertLess(time.time() - started, 5)
            self.assertEqual(server.request("GET", "/health", key=None)[0], 200)
        finally:
            server.stop()

    def test_sigterm_with_a_stream_in_flight_ends_it_and_exits_0(self):
        server = Server("-np", "1", "-c", "2048")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("POST", "/completion", body=json.dumps({"prompt": "Go:", "n_predict": 1000, "stream": True,
                                                                  "ignore_eos": True}))
            r = conn.getresponse()
            self.assertTrue(r.read(6).startswith(b"data: "))
            server.proc.send_signal(signal.SIGTERM)
            stopped = time.time()
            rest = r.read().decode()
            self.assertIn("cancelled", rest, "the stream did not end with the cancellation")
            self.assertEqual(server.proc.wait(timeout=20), 0, "".join(server.stderr))
            self.assertLess(time.time() - stopped, 10)
        finally:
            server.stop()

    def test_keys_from_a_key_file(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".keys") as f:
            f.write("first-key\n\nsecond-key\n")
            f.flush()
            server = Server("--api-key-file", f.name)
            try:
                body = {"prompt": "Hi", "n_predict": 1}
                self.assertEqual(server.request("POST", "/completion", body, key="second-key")[0], 200)
                self.assertEqual(server.request("POST", "/completion", body, key="first-key")[0], 200)
                self.assertEqual(server.request("POST", "/completion", body, key="third-key")[0], 401)
                self.assertEqual(server.request("GET", "/health", key=None)[0], 200)
            finally:
                server.stop()
        with tempfile.NamedTemporaryFile("w", suffix=".keys") as empty:
            r = subprocess.run([NATTER, "serve", "--api-key-file", empty.name], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"natter: error: The API key file {empty.name} holds no key.\n")

    def test_usage_errors_exit_2_and_runtime_errors_exit_1(self):
        bad = subprocess.run([NATTER, "serve", "--port", "70000"], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = subprocess.run([NATTER, "serve", "-m", str(MODEL), "--port", str(taken.getsockname()[1])],
                                  capture_output=True, text=True, timeout=30)
        self.assertEqual(busy.returncode, 1, busy.stderr)
        self.assertIn("natter: error: Cannot listen on 127.0.0.1:", busy.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--natter", required=True)
    args, rest = parser.parse_known_args()
    NATTER = args.natter
    unittest.main(argv=[sys.argv[0], *rest])
