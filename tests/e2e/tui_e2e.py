#!/usr/bin/env python3
"""End-to-end tests of natter's chat screen: natter runs in a detached tmux session (tmux
is the terminal, so no TTY is needed on stdin), keys go in with send-keys and the screen
comes back with capture-pane. Every wait polls the screen until the expected text shows,
with a generous timeout, so a slow or busy machine only makes the tests slower.

    tui_e2e.py --natter build/natter [unittest names, e.g. Chat.test_multi_turn]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import unittest

NATTER = None
STORIES = None
DEFAULT_MODEL = None
SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TIMEOUT = float(os.environ.get("NATTER_E2E_TIMEOUT", "300"))  # seconds for one wait
# The status line always shows the sampling settings, long ("temp 0.80") or short ("t0.80 p0.95").
STATUS_ROW = re.compile(r"temp \d\.\d\d|\bt\d\.\d\d p\d\.\d\d")
WRITING = "\u25cf"  # the status line's mark while a reply streams
MORE_ROWS = "more rows (End)"  # the marker while the view is scrolled up


def status_of(screen):
    for row in screen.split("\n"):
        if STATUS_ROW.search(row):
            return row
    return ""


def cells(text):
    """Terminal cells of a string: East Asian wide and fullwidth characters take two."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def alnum(text):
    """Only letters and digits: wrapping, Markdown and bullets change nothing else."""
    return "".join(ch for ch in text if ch.isalnum())


class Terminal:
    """One natter in one tmux server of its own."""

    def __init__(self, args, width=100, height=40, env=None, cwd=None):
        self.dir = tempfile.mkdtemp(prefix="natter-e2e-")
        self.cwd = cwd  # where natter starts (default: tmux's)
        self.socket = os.path.join(self.dir, "tmux.sock")
        self.env = {
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "XDG_DATA_HOME": os.path.join(self.dir, "data"),
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "INPUTRC": "/dev/null",
        }
        self.env.update(env or {})
        conf = os.path.join(self.dir, "tmux.conf")
        with open(conf, "w") as f:
            f.write('set -g default-terminal "tmux-256color"\n')
            f.write("set -g set-clipboard on\n")  # lets /copy (OSC 52) fill a tmux buffer
            f.write("set -g status off\n")
        self.conf = conf
        self.start(args, width, height)

    def tmux(self, *args, check=True):
        env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        env.pop("TMUX", None)
        return subprocess.run(["tmux", "-u", "-S", self.socket, "-f", self.conf, *args], env=env,
                              check=check, capture_output=True, text=True)

    def command(self, args):
        assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return f"env {assigns} {shlex.quote(NATTER)} {' '.join(shlex.quote(a) for a in args)}; " \
               f"echo NATTER-EXIT=$?; sleep 3600"

    def start(self, args, width, height):
        where = ["-c", self.cwd] if self.cwd else []
        self.tmux("new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height), *where, self.command(args))

    def restart(self, args):
        """A new natter in the same pane (same data directory), the old one ended."""
        self.tmux("respawn-pane", "-k", "-t", "e2e", self.command(args))

    def close(self):
        self.tmux("kill-server", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "e2e", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "e2e", "-l", text)

    def paste(self, text):
        self.tmux("set-buffer", "-b", "paste", "--", text)
        self.tmux("paste-buffer", "-p", "-d", "-b", "paste", "-t", "e2e")

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "e2e", "-x", str(width), "-y", str(height))

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "e2e").stdout

    def rows(self):
        return self.screen().splitlines()

    def wait_for(self, condition, what, timeout=TIMEOUT, exit_ok=False):
        """Polls until condition(screen) is true; fails with the last screen, at once when
        natter has exited (unless exit_ok: the screen may still show an earlier exit)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            if not exit_ok and "NATTER-EXIT=" in screen:
                raise AssertionError(f"natter exited while waiting for {what}; the screen was:\n{screen}")
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; the screen was:\n{screen}")

    def wait_text(self, text, timeout=TIMEOUT):
        return self.wait_for(lambda s: text in s, repr(text), timeout)

    def status(self):
        return status_of(self.screen())

    def wait_ready(self):
        return self.wait_for(lambda s: status_of(s) and "\u203a" in s, "the chat screen")

    def wait_idle(self, user_turns):
        """Until `user_turns` messages are on the screen and no reply is being written, on two
        captures in a row: a capture can land in the middle of a frame (ncurses writes rows top
        to bottom), with the new message drawn and the status line not yet marked busy."""
        def done(screen):
            return screen.split("\n").count("You") >= user_turns and WRITING not in status_of(screen)
        deadline = time.monotonic() + TIMEOUT
        while True:
            screen = self.wait_for(done, f"{user_turns} finished exchanges", max(1.0, deadline - time.monotonic()))
            time.sleep(0.2)
            if self.screen() == screen or time.monotonic() > deadline:
                return self.wait_for(done, f"{user_turns} finished exchanges", 1.0)

    def send(self, text):
        self.type(text)
        self.keys("Enter")

    def save(self, name):
        path = os.path.join(self.dir, name)
        self.send(f"/save {path}")
        self.wait_text("Saved the chat to")
        with open(path) as f:
            return json.load(f) if name.endswith(".json") else f.read()


class Chat(unittest.TestCase):
    def open(self, model, *args, **kw):
        term = Terminal(["-m", model, *args], **kw)
        self.addCleanup(term.close)
        term.wait_ready()
        return term

    def open_tutorial_line(self, line):
        """A llama.cpp tutorial's command line, verbatim but for the model file, started in the
        source tree (its prompt files are named relative to it)."""
        args = shlex.split(line)
        self.assertEqual(args[0], "natter")
        args = [STORIES if a == "model.gguf" else a for a in args[1:]]
        term = Terminal(args, cwd=SOURCE)
        self.addCleanup(term.close)
        term.wait_ready()
        return term

    def assert_sampling_shown(self, status, temp, repeat):
        self.assertTrue(re.search(rf"\bt{temp} p|temp {temp} ", status), status)
        self.assertTrue(re.search(rf"\br{repeat}\b|rep {repeat}\b", status), status)

    def need_default_model(self):
        if not os.path.exists(DEFAULT_MODEL):
            self.fail(f"the default model is not there ({DEFAULT_MODEL}); scripts/setup fetches it")

    def test_multi_turn(self):
        t = self.open(STORIES, "-n", "24", "--seed", "7")
        t.send("Once upon a time there was a cat.")
        t.wait_idle(1)
        self.assertIn("tok/s", t.status())
        t.send("The cat went to the park.")
        t.wait_idle(2)
        chat = t.save("multi.json")
        roles = [m["role"] for m in chat["messages"]]
        self.assertEqual(roles, ["user", "assistant", "user", "assistant"])
        self.assertEqual(chat["messages"][2]["text"], "The cat went to the park.")
        for reply in chat["messages"][1::2]:
            self.assertTrue(reply["text"].strip())
            self.assertFalse(reply.get("interrupted", False))
        # The second turn reused the first one from the KV cache.
        self.assertLess(chat["messages"][3]["tokens"]["prompt_evaluated"], chat["messages"][3]["tokens"]["prompt"])
        # The screen shows both exchanges, the user's words verbatim.
        screen = t.screen()
        self.assertIn("Once upon a time there was a cat.", screen)
        self.assertIn("The cat went to the park.", screen)

    def test_multiline_input_with_backslash_and_alt_enter(self):
        t = self.open(STORIES, "-n", "4")
        t.type("first line \\")
        t.keys("Enter")
        t.type("second line")
        t.keys("M-Enter")
        t.type("third line")
        t.wait_for(lambda s: "  second line" in s and "  third line" in s, "the input area growing to three rows")
        t.keys("Enter")
        t.wait_idle(1)
        chat = t.save("multiline.json")
        self.assertEqual(chat["messages"][0]["text"], "first line \nsecond line\nthird line")

    def test_bracketed_paste_is_one_message(self):
        t = self.open(STORIES, "-n", "4")
        t.paste("pasted one\npasted two\n\tpasted three")
        t.wait_for(lambda s: "pasted three" in s, "the pasted text in the input area")
        self.assertNotIn("You", t.rows(), "a newline inside the paste must not send it")
        t.keys("Enter")
        t.wait_idle(1)
        chat = t.save("paste.json")
        self.assertEqual([m["role"] for m in chat["messages"]], ["user", "assistant"])
        self.assertEqual(chat["messages"][0]["text"], "pasted one\npasted two\n    pasted three")

    def test_pasted_bytes_that_are_not_utf8_arrive_as_replacements(self):
        t = self.open(STORIES, "-n", "4")
        raw = os.path.join(t.dir, "raw.txt")
        with open(raw, "wb") as f:
            f.write(b"caf\xc3\xa9 \xff bad \x1b[31m red")
        t.tmux("load-buffer", "-b", "paste", raw)
        t.tmux("paste-buffer", "-p", "-d", "-b", "paste", "-t", "e2e")
        t.wait_for(lambda s: "red" in s, "the pasted text in the input area")
        t.keys("Enter")
        t.wait_idle(1)
        chat = t.save("paste.json")
        self.assertEqual(chat["messages"][0]["text"], "caf\u00e9 \ufffd bad \ufffd[31m red")

    def long_reply(self, t):
        """Starts a reply and returns once some of its text is on the screen."""
        t.send("Write a long story about a dragon who learns to bake bread.")
        t.wait_for(lambda s: WRITING in status_of(s) and self.reply_rows(s), "the reply to start streaming")

    @staticmethod
    def reply_rows(screen):
        rows = screen.split("\n")
        labels = [i for i, r in enumerate(rows) if r == "You"]
        if not labels:
            return []
        body = rows[labels[-1] + 1:]
        # user text, blank, model label, reply rows
        try:
            blank = body.index("")
        except ValueError:
            return []
        reply = []
        for row in body[blank + 2:]:
            if row == "" or STATUS_ROW.search(row) or row.startswith("[interrupted]"):
                break
            reply.append(row)
        return [r for r in reply if r != "\u2026"]

    def test_ctrl_c_stops_the_reply_and_keeps_it(self):
        self.need_default_model()
        t = self.open(DEFAULT_MODEL, "-n", "400")
        self.long_reply(t)
        t.keys("C-c")
        t.wait_text("[interrupted]")
        t.wait_text("partial reply is kept")
        chat = t.save("interrupted.json")
        reply = chat["messages"][-1]
        self.assertEqual(reply["role"], "assistant")
        self.assertTrue(reply["interrupted"])
        self.assertTrue(reply["text"].strip())
        self.assertLess(reply["tokens"]["completion"], 400)
        # Ctrl-C at an empty prompt does not quit: it says how to.
        t.keys("C-c")
        t.wait_text("To quit, press Ctrl-D on an empty line")
        self.assertNotIn("NATTER-EXIT", t.screen())

    def test_template_switching_by_key(self):
        self.need_default_model()
        t = self.open(DEFAULT_MODEL, "-n", "1")
        self.assertIn(" chatml ", t.status())  # SmolLM2's template is detected as chatml
        t.send("Hi")
        t.wait_idle(1)
        t.send("/prompt")
        t.wait_text("<|im_start|>user")
        t.keys("q")
        t.keys("F2")  # templates in name order: chatml -> gemma
        t.wait_for(lambda s: " gemma " in status_of(s), "gemma in the status line")
        t.send("/prompt")
        screen = t.wait_text("<start_of_turn>user")
        self.assertNotIn("<|im_start|>", screen)
        t.keys("q")

    def test_temperature_by_key_shows_in_the_status_line(self):
        t = self.open(STORIES, "--temp", "0.8", width=120)
        self.assertIn("temp 0.80", t.status())
        t.keys("F4")
        t.wait_for(lambda s: "temp 0.90" in s, "temp 0.90 after F4")
        t.keys("F3", "F3", "F3")
        t.wait_for(lambda s: "temp 0.60" in s, "temp 0.60 after F3 three times")
        t.keys("F8")
        t.wait_for(lambda s: "top-k 45" in s, "top-k 45 after F8")
        t.send("/set temp")
        t.wait_text("temp = 0.6")
        t.keys("F1")
        t.wait_text("Help: keys and commands")
        self.assertIn("temperature up by 0.1", t.screen())
        t.keys("q")
        t.wait_for(lambda s: "Help: keys and commands" not in s, "the help to close")

    def test_save_and_load(self):
        t = self.open(STORIES, "-n", "12", "--seed", "3")
        t.send("Tom had a red ball.")
        t.wait_idle(1)
        saved = t.save("saved.json")
        t.send("/copy")
        t.wait_text("Copied the last reply")
        t.wait_for(lambda s: t.tmux("show-buffer", check=False).stdout.strip(), "the OSC 52 clipboard buffer")
        self.assertEqual(t.tmux("show-buffer").stdout, saved["messages"][1]["text"])
        markdown = t.save("saved.md")
        self.assertIn("Tom had a red ball.", markdown)
        t.send("/clear")
        t.wait_for(lambda s: "Tom had a red ball." not in s, "the screen to clear")
        t.send(f"/load {os.path.join(t.dir, 'saved.json')}")
        t.wait_text("Loaded ")
        screen = t.wait_text("Tom had a red ball.")
        first_reply_row = saved["messages"][1]["text"].strip().split("\n")[0][:20]
        self.assertIn(first_reply_row.strip(), screen)
        # A broken file is one clear line and the chat stays as it is.
        bad = os.path.join(t.dir, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        t.send(f"/load {bad}")
        t.wait_for(lambda s: any("bad.json" in r and not r.startswith("\u203a") for r in s.split("\n")),
                   "the one-line error about bad.json")
        self.assertIn("Tom had a red ball.", t.screen())

    def test_resize_mid_reply(self):
        self.need_default_model()
        t = self.open(DEFAULT_MODEL, "-n", "120", "--temp", "0", width=100, height=40)
        self.long_reply(t)
        t.resize(50, 30)
        t.wait_for(lambda s: max(len(r) for r in s.split("\n")) <= 50, "the narrower window")
        t.wait_idle(1)
        rows = t.rows()
        self.assertEqual(len(rows), 30)
        for row in rows:
            self.assertLessEqual(cells(row), 50, row)
        reply = self.reply_rows(t.screen())
        self.assertTrue(reply)
        chat = t.save("resized.json")
        # The rows on the screen are the reply re-wrapped: nothing garbled, nothing left over.
        self.assertIn(alnum("".join(reply)), alnum(chat["messages"][-1]["text"]))
        self.assertTrue(t.status())

    def test_reading_older_text_is_not_yanked_by_new_tokens(self):
        self.need_default_model()
        t = self.open(DEFAULT_MODEL, "-n", "300", width=30, height=12)
        self.long_reply(t)
        # Once the reply has pushed the user's message off the top, look back a page.
        t.wait_for(lambda s: "You" not in s.splitlines() and WRITING in status_of(s), "a reply longer than the window")
        t.keys("PPage")
        screen = t.wait_text(MORE_ROWS)
        top = screen.splitlines()[:3]
        below = int(re.search(r"(\d+) " + re.escape(MORE_ROWS), screen).group(1))
        # More text arrives below; the rows being read stay where they are.
        t.wait_for(lambda s: MORE_ROWS in s and int(re.search(r"(\d+) " + re.escape(MORE_ROWS), s).group(1)) > below
                   or WRITING not in status_of(s), "more rows below")
        self.assertEqual(t.screen().splitlines()[:3], top)
        t.keys("End")
        t.wait_for(lambda s: MORE_ROWS not in s, "End to follow the newest text again")

    def test_chinese_conversation_wraps_at_a_narrow_width(self):
        t = self.open(STORIES, "-n", "8", width=24, height=30)
        message = "我们今天去公园散步吧，天气很好。你觉得怎么样？"
        t.send(message)
        t.wait_idle(1)
        rows = t.rows()
        start = rows.index("You") + 1
        shown = rows[start:rows.index("", start)]
        self.assertGreaterEqual(len(shown), 2)
        self.assertEqual("".join(shown), message)  # wrapped between characters, nothing lost
        for row in shown:
            self.assertLessEqual(cells(row), 24, row)
            self.assertFalse(row[0] in "，。？", f"closing punctuation starts a row: {row}")
        # Backspace takes a wide character as one character.
        t.type("谢谢你！x")
        t.keys("BSpace", "BSpace", "BSpace")
        t.wait_for(lambda s: any(r.startswith("\u203a ") and r.rstrip().endswith("谢谢") for r in s.splitlines()),
                   "the input line back to 谢谢")
        t.type("！")
        t.keys("Enter")
        t.wait_idle(2)
        chat = t.save("chinese.json")
        self.assertEqual([m["text"] for m in chat["messages"] if m["role"] == "user"], [message, "谢谢！"])

    def test_clear_and_load_autosave_the_chat_first(self):
        # Wide enough for the notices, which name two files.
        t = self.open(STORIES, "-n", "8", "--seed", "5", width=250)
        sessions = os.path.join(t.dir, "data", "natter", "sessions")

        def chats():
            found = {}
            for name in sorted(os.listdir(sessions)):
                with open(os.path.join(sessions, name)) as f:
                    found[name] = [m["text"] for m in json.load(f)["messages"] if m["role"] == "user"]
            return found

        t.send("Sam found a blue box.")
        t.wait_idle(1)
        t.send("/clear")
        t.wait_text("the previous chat is saved in")
        t.wait_for(lambda s: "Sam found a blue box." not in s, "the screen to clear")
        first = chats()
        self.assertEqual(list(first.values()), [["Sam found a blue box."]])
        first_file = os.path.join(sessions, next(iter(first)))

        t.send("Mia liked the rain.")
        t.wait_idle(1)
        t.send(f"/load {first_file}")
        t.wait_text("the previous chat is saved in")
        t.wait_text("Sam found a blue box.")
        self.assertEqual(sorted(chats().values()), [["Mia liked the rain."], ["Sam found a blue box."]])

        # Chatting on in the loaded chat and quitting writes a third file; both earlier
        # chats stay as they were.
        t.send("The box was empty.")
        t.wait_idle(2)
        t.keys("C-d")
        t.wait_text("NATTER-EXIT=0")
        self.assertEqual(sorted(chats().values()), [["Mia liked the rain."], ["Sam found a blue box."],
                                                    ["Sam found a blue box.", "The box was empty."]])

    def test_a_long_message_can_be_read_in_full(self):
        t = self.open(STORIES, "-n", "4", width=60)
        missing = os.path.join(t.dir, "a-folder-with-a-long-name", "and-a-chat-file-that-is-not-there.json")
        t.send(f"/load {missing}")
        screen = t.wait_text("(F12: all)")
        row = next(r for r in screen.splitlines() if "(F12: all)" in r)
        self.assertNotIn("is-not-there.json", row)  # the message row is cut
        t.keys("F12")
        screen = t.wait_text("Messages of this chat")
        joined = "".join(row.strip() for row in screen.splitlines())
        self.assertIn("and-a-chat-file-that-is-not-there.json", joined)
        t.keys("q")
        t.wait_for(lambda s: "Messages of this chat" not in s, "the messages view to close")

    def test_f11_shows_each_replys_numbers_under_it(self):
        t = self.open(STORIES, "-n", "5", "--temp", "0")
        t.send("Once upon a time")
        t.wait_idle(1)
        self.assertNotIn("tokens/s", t.screen())
        t.keys("F11")
        screen = t.wait_text("tokens/s \u00b7 first token")
        # The rows under the reply: 5 tokens (-n 5), the time to the first one, why it stopped.
        rows = screen.splitlines()
        at = next(i for i, r in enumerate(rows) if "tokens/s \u00b7 first token" in r)
        numbers = " ".join(rows[at:at + 2])
        self.assertTrue(re.match(r"^5 tokens \u00b7 [0-9.]+ tokens/s \u00b7 first token [0-9]+ ms \u00b7 prompt [0-9]+ tokens", numbers), numbers)
        self.assertIn("\u00b7 the -n limit", numbers)
        t.send("/stats")
        screen = t.wait_text("Reply statistics")
        self.assertIn("reply 1: 5 tokens", screen)
        t.keys("q")
        t.keys("F11")
        t.wait_for(lambda s: "tokens/s \u00b7 first token" not in s, "the numbers to be hidden again")

    def test_a_recalled_history_line_that_is_edited_and_left_is_not_rewritten(self):
        t = self.open(STORIES, "-n", "2")
        t.send("first message")
        t.wait_idle(1)
        t.keys("Up")
        t.wait_for(lambda s: s.rstrip().endswith("\u203a first message"), "the recalled line")
        t.type(" EDITED")
        t.keys("Down")
        t.wait_for(lambda s: s.rstrip().endswith("\u203a"), "an empty input line")
        t.send("second message")
        t.wait_idle(2)
        t.keys("Up", "Up")
        screen = t.wait_for(lambda s: s.rstrip().endswith("\u203a first message") or "EDITED" in s.splitlines()[-1],
                            "the first entry recalled")
        self.assertTrue(screen.rstrip().endswith("\u203a first message"), screen.splitlines()[-1])

    def test_the_scroll_marker_row_shows_only_the_marker(self):
        t = self.open(STORIES, "-n", "300", "--temp", "0", height=12)
        t.send("Once upon a time there was a very long road with many trees along it and a cat.")
        t.wait_text("length limit of 300 tokens")  # the conversation is now taller than the screen
        t.keys("PageUp")
        screen = t.wait_text("more rows (End)")
        row = next(r for r in screen.splitlines() if "more rows (End)" in r)
        # Drawn over a row of the conversation: nothing of that row may show after it.
        self.assertTrue(re.fullmatch(r" \u2193 [0-9]+ more rows \(End\)", row.rstrip()), repr(row))

    def test_llama_cpp_alpaca_instruct_line_runs_verbatim(self):
        t = self.open_tutorial_line("natter chat -m model.gguf --color -f prompts/alpaca.txt -ins -c 2048 "
                                    "--temp 0.2 -n 256 --repeat_penalty 1.3")
        status = t.status()
        self.assertIn("alpaca", status)  # -ins: the alpaca template
        self.assert_sampling_shown(status, "0.20", "1.30")
        self.assertIn("/2048", status)
        t.send("Tell me about a cat.")
        t.wait_idle(1)
        chat = t.save("alpaca.json")
        self.assertEqual(chat["template"], "alpaca")
        with open(os.path.join(SOURCE, "prompts", "alpaca.txt")) as f:
            self.assertEqual(chat["system_prompt"], f.read())
        self.assertEqual(chat["settings"]["max_tokens"], 256)
        self.assertAlmostEqual(chat["settings"]["temperature"], 0.2, places=6)
        self.assertAlmostEqual(chat["settings"]["repeat_penalty"], 1.3, places=6)
        self.assertEqual([m["role"] for m in chat["messages"]], ["user", "assistant"])
        self.assertEqual(chat["messages"][0]["text"], "Tell me about a cat.")
        self.assertTrue(chat["messages"][1]["text"].strip())

    def test_llama_cpp_chat_with_bob_line_runs_verbatim(self):
        t = self.open_tutorial_line('natter chat -m model.gguf -n 256 --repeat_penalty 1.0 --color -i '
                                    '-r "User:" -f prompts/chat-with-bob.txt')
        self.assert_sampling_shown(t.status(), "0.80", "1.00")
        t.send("Hi Bob, what is the tallest mountain?")
        t.wait_idle(1)
        chat = t.save("bob.json")
        with open(os.path.join(SOURCE, "prompts", "chat-with-bob.txt")) as f:
            self.assertEqual(chat["system_prompt"], f.read())
        self.assertEqual(chat["settings"]["reverse_prompts"], ["User:"])
        self.assertEqual(chat["settings"]["max_tokens"], 256)
        self.assertAlmostEqual(chat["settings"]["repeat_penalty"], 1.0, places=6)
        reply = chat["messages"][1]
        if "User:" in reply["text"]:  # -r hands the turn back right after it
            self.assertEqual(reply["stop_reason"], "reverse-prompt")
            self.assertTrue(reply["text"].endswith("User:"), reply["text"])
        # The turn is ours again: a second message gets its reply.
        t.send("Thank you, Bob.")
        t.wait_idle(2)

    def test_history_persists_and_ctrl_d_quits_after_autosave(self):
        t = self.open(STORIES, "-n", "4")
        t.send("/set top-k 33")
        t.wait_text("top-k = 33")
        t.send("Lily saw a bird.")
        t.wait_idle(1)
        t.keys("C-d")
        screen = t.wait_text("NATTER-EXIT=0")
        self.assertIn("the chat is saved in", screen)
        sessions = os.path.join(t.dir, "data", "natter", "sessions")
        self.assertEqual(len(os.listdir(sessions)), 1)
        # A new natter with the same data directory finds the history: Ctrl-R searches it.
        t.restart(["-m", STORIES])
        t.wait_for(lambda s: "NATTER-EXIT" not in s and status_of(s), "natter to start again", exit_ok=True)
        t.keys("C-r")
        t.type("top")
        t.wait_text("/set top-k 33")
        t.keys("C-g", "Up")
        t.wait_for(lambda s: "\u203a Lily saw a bird." in s, "the last message from Up")


    def test_continue_resumes_the_last_chat_in_a_new_file(self):
        t = self.open(STORIES, "-n", "4")
        sessions = os.path.join(t.dir, "data", "natter", "sessions")
        t.send("Lily saw a bird.")
        t.wait_idle(1)
        t.keys("C-d")
        t.wait_text("NATTER-EXIT=0")
        first = os.listdir(sessions)
        self.assertEqual(len(first), 1)
        # --continue shows the saved chat and goes on in a file of its own.
        t.restart(["-m", STORIES, "-n", "4", "--continue"])
        t.wait_for(lambda s: "NATTER-EXIT" not in s and status_of(s) and "Lily saw a bird." in s,
                   "the continued chat on screen", exit_ok=True)
        t.send("Tom saw a cat.")
        t.wait_idle(2)
        t.keys("C-d")
        t.wait_text("NATTER-EXIT=0")
        second = [name for name in os.listdir(sessions) if name not in first]
        self.assertEqual(len(second), 1, os.listdir(sessions))
        with open(os.path.join(sessions, second[0])) as f:
            texts = [m["text"] for m in json.load(f)["messages"] if m["role"] == "user"]
        self.assertEqual(texts, ["Lily saw a bird.", "Tom saw a cat."])
        with open(os.path.join(sessions, first[0])) as f:
            self.assertEqual(len(json.load(f)["messages"]), 2)  # the first file is untouched

    def test_a_remote_chat_on_natter_serve_shows_what_the_local_one_shows(self):
        """The full-screen chat with --remote against natter serve on loopback: the same replies
        as on the local model at temperature 0; the status line says remote and server; F2 says
        templates are the server's job; Ctrl-C closes the stream and keeps the partial reply."""
        self.need_default_model()
        import socket
        import urllib.request
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([NATTER, "serve", "-m", DEFAULT_MODEL, "--port", str(port), "-t", "1", "-np", "1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (server.terminate(), server.wait(timeout=30)))
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.fail("natter serve did not become healthy")
                time.sleep(0.1)
        turns = ["What is the capital of France?", "And what is the capital of Germany?"]
        replies = {}
        for name, args in (("local", ["-m", DEFAULT_MODEL, "-t", "1"]), ("remote", ["--remote", f"http://127.0.0.1:{port}/v1"])):
            term = Terminal([*args, "--temp", "0", "-n", "32"])
            self.addCleanup(term.close)
            term.wait_ready()
            for i, text in enumerate(turns):
                term.send(text)
                term.wait_idle(i + 1)
            chat = term.save(f"{name}.json")
            replies[name] = [m["text"] for m in chat["messages"] if m["role"] == "assistant"]
        self.assertIn("Paris", replies["local"][0])
        self.assertEqual(replies["remote"], replies["local"])
        self.assertEqual(chat["model"]["path"], f"http://127.0.0.1:{port}/v1")
        status = term.status()
        self.assertIn("remote", status)
        self.assertIn("server", status)
        term.keys("F2")
        term.wait_text("Templates are the server's job")
        term.send("/set max-tokens 400")
        term.wait_text("max-tokens = 400")
        self.long_reply(term)
        term.keys("C-c")
        term.wait_text("[interrupted]")
        chat = term.save("interrupted.json")
        reply = chat["messages"][-1]
        self.assertTrue(reply["interrupted"])
        self.assertEqual(reply["stop_reason"], "cancelled")
        self.assertTrue(reply["text"].strip())

    def test_a_failed_remote_reply_is_one_sentence_and_enter_retries_it(self):
        """A server that answers 503 once (the scripted one of tests/remote): one sentence on
        the message line, the conversation kept, and Enter on the empty line asks again."""
        sys.path.insert(0, os.path.join(SOURCE, "tests", "remote"))
        from remote_e2e import FakeServer
        server = FakeServer(["503"])
        self.addCleanup(server.close)
        t = Terminal(["--remote", server.url])
        self.addCleanup(t.close)
        t.wait_ready()
        t.send("hi")
        t.wait_text("The server failed (HTTP 503: The engine is overloaded)")
        self.assertNotIn("Hello there.", t.screen())
        t.keys("Enter")
        t.wait_text("Hello there.")
        chat = t.save("retried.json")
        self.assertEqual([(m["role"], m["text"]) for m in chat["messages"]], [("user", "hi"), ("assistant", "Hello there.")])
        self.assertEqual(len(server.httpd.requests), 2)


def main():
    global NATTER, STORIES, DEFAULT_MODEL
    parser = argparse.ArgumentParser()
    parser.add_argument("--natter", required=True)
    parser.add_argument("--stories", default=os.path.join(os.path.dirname(__file__), "../data/models/stories260K.gguf"))
    args, rest = parser.parse_known_args()
    NATTER = os.path.abspath(args.natter)
    STORIES = os.path.abspath(args.stories)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    DEFAULT_MODEL = os.path.join(cache, "natter", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 1
    program = unittest.main(argv=[sys.argv[0], "-v", *rest], exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
