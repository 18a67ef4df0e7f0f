#pragma once
// The session manager: one conversation with one model. It owns the chat history, the
// template, the live settings, the context window (KV-cache reuse, dropping old turns when
// full) and the transcripts, and runs generation on its own thread.
//
// Threads: every public method is called from one front-end thread (the TUI or the line
// chat). Generation runs on the session's generator thread, which reports through an event
// queue the front end drains (poll_event / wait_event, woken by the notifier). All getters
// return copies taken under a lock, so they are safe to call while a reply streams.
//
// Methods that change the conversation (submit, regenerate, undo, edit_last, clear, load)
// throw natter::Error with a one-line message when the generator is busy: cancel() first, or
// wait for Finished / Interrupted. Settings, template and system prompt may change at any
// time; the template and system prompt apply from the next turn, settings from the next token.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/sampler.h"

namespace natter {

class Model;

// Settings that may change at any moment; the generator picks them up before the next
// token it samples (never inside one).
struct ChatSettings {
    SamplingParams sampling;  // temperature, top_k, top_p, min_p, repeat_penalty,
                              // repeat_last_n, frequency/presence penalties, seed
    int max_tokens = -1;      // reply length limit in tokens; -1: until a stop or the context is full
};

// A model on an OpenAI-compatible server (natter serve, llama-server, vLLM, ollama) instead of
// a local file: the chat streams /v1/chat/completions, and the server applies its template.
struct RemoteOptions {
    std::string url;        // e.g. http://gpu-box:8000/v1; empty: the local model
    std::string api_key;    // sent as a bearer token; never saved, shown or logged
    std::string model;      // one of /v1/models; empty: the first the server lists
    int timeout_seconds = 120;  // the longest silence of a reply stream before it is given up
};

struct SessionOptions {
    std::string model_path;   // empty: the default model (app/model_path.h)
    RemoteOptions remote;     // remote.url set: no local model, the server's instead
    int n_ctx = 2048;         // context window in tokens; 0: the model's training context
    int n_batch = 512;        // prompt tokens evaluated per batch (progress is reported per batch)
    int n_threads = 0;        // 0: one per physical core
    bool flash_attn = false;  // llama.cpp's flash attention, or its attention without (the chat's -fa: on)
    std::string template_name;  // empty: detected from the model's tokenizer.chat_template, else chatml
    std::optional<std::string> system_prompt;  // nullopt: the template's default (often none)
    ChatSettings settings;
    // When the context fills, old turns are dropped but the system prompt and the first `keep`
    // tokens of the context stay; the messages those tokens touch are kept whole.
    // -1: keep the first exchange.
    int keep = 0;
    std::vector<std::string> reverse_prompts;  // -r: stop after the reply contains one (it stays in the text)
    // --in-prefix / --in-suffix: written around each user message in the prompt (the message's
    // own text, shown and saved, stays as typed).
    std::string in_prefix;
    std::string in_suffix;
    bool load_user_templates = true;           // also load $XDG_CONFIG_HOME/natter/templates
    std::filesystem::path autosave_dir;        // empty: paths::sessions_dir() (core/paths.h)
};

enum class Role { System, User, Assistant };
std::string_view role_name(Role role);  // "system", "user", "assistant"

// Why a reply ended.
enum class StopReason {
    None,           // still streaming (or never generated)
    EndOfText,      // the model produced an end-of-generation token
    StopString,     // the template's stop string appeared (it is not part of the text)
    ReversePrompt,  // a -r reverse prompt appeared (it is part of the text)
    MaxTokens,      // the max_tokens setting was reached
    ContextFull,    // the reply alone filled the context window
    Cancelled,      // cancel() was called; the partial reply is kept, marked interrupted
    Error,          // the engine failed; the event carries the message
};
std::string_view stop_reason_name(StopReason reason);  // "eos", "stop", "reverse-prompt", ...
// For people: "end of text", "the -n limit", "context full", "stopped by you", ...
std::string_view stop_reason_text(StopReason reason);

using WallClock = std::chrono::system_clock;

// Numbers about one reply (zero until it has them).
struct ReplyStats {
    int prompt_tokens = 0;      // tokens in the context before the reply started
    int prompt_evaluated = 0;   // of those, evaluated for this reply (the rest came from the KV cache)
    int completion_tokens = 0;  // tokens generated (the stop token included if one ended the reply)
    double prompt_ms = 0;       // prompt evaluation time
    double ttft_ms = 0;         // submit -> first text piece
    double generation_ms = 0;   // end of prompt evaluation -> end of the reply
    double tokens_per_second() const {
        return generation_ms > 0 ? completion_tokens * 1000.0 / generation_ms : 0.0;
    }
    double prompt_tokens_per_second() const {
        return prompt_ms > 0 ? prompt_evaluated * 1000.0 / prompt_ms : 0.0;
    }
};

// One reply's numbers in one line, the same in both chats and /stats: "12 tokens · 13.3 tokens/s ·
// first token 250 ms · prompt 31 tokens, 5 evaluated in 210 ms · end of text".
std::string reply_stats_text(const ReplyStats& stats, StopReason reason);

struct Message {
    Role role = Role::User;
    std::string text;
    WallClock::time_point created{};   // user: when sent; assistant: when generation started
    WallClock::time_point finished{};  // assistant: when the reply ended; user: == created
    bool interrupted = false;          // assistant: cancelled or failed, the text is partial
    bool in_context = true;            // false once dropped from the context window (still shown/saved)
    StopReason stop_reason = StopReason::None;  // assistant only
    ReplyStats stats;                  // assistant only
};

// What the generator reports, in order. For one reply: PromptProgress* FirstToken Text*
// then exactly one of Finished / Interrupted. Notice may come at any time.
struct SessionEvent {
    enum class Kind {
        PromptProgress,  // done / total prompt tokens evaluated so far (per batch)
        FirstToken,      // the first piece is about to follow; stats.ttft_ms is set
        Text,            // text: the next piece of the reply (complete UTF-8 characters)
        Finished,        // the reply ended normally: reason, stats
        Interrupted,     // cancelled (reason Cancelled) or failed (reason Error, text = message)
        Notice,          // text: something the user should know, e.g. "dropped 2 old turns to make room"
    };
    Kind kind = Kind::Notice;
    std::string text;
    int done = 0;
    int total = 0;
    StopReason reason = StopReason::None;
    ReplyStats stats;
};

struct ContextUsage {
    int used = 0;   // tokens now in the KV cache
    int total = 0;  // n_ctx
};

class Session {
public:
    // Loads the model (blocking) and starts the generator thread. Throws natter::Error for a
    // model that cannot be loaded or an unknown template name. With options.remote.url, asks
    // the server for its models instead (one sentence when it cannot be reached or lacks the
    // model named).
    explicit Session(const SessionOptions& options);
    // Shares an already loaded model (tests load it once for many sessions).
    Session(std::shared_ptr<const Model> model, const SessionOptions& options);
    ~Session();  // cancels any reply and joins the generator; does not autosave
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // --- conversation -----------------------------------------------------------------
    // Appends a user message and starts the reply. Throws natter::Error (and changes nothing)
    // if busy, if text is empty, or if the message alone cannot fit in the context window.
    void submit(const std::string& user_text);
    // Drops the last assistant reply and generates it again (with the current settings).
    void regenerate();
    // Removes the last exchange (the last user message and the reply after it) and returns
    // that user message's text ("" if there was nothing to undo).
    std::string undo();
    // The text of the last user message ("" if none), for /edit.
    std::string last_user_text() const;
    // Replaces the last user message, drops its reply and generates a new one.
    void edit_last(const std::string& new_text);
    // Starts a new, empty conversation (settings, template and system prompt stay).
    void clear();

    // Thread-safe: stops the reply at the next token (or inside a prompt evaluation between
    // batches and layers). The partial reply stays, marked interrupted. No-op when idle.
    void cancel();
    bool busy() const;
    void wait_idle() const;  // blocks until no reply is running

    std::vector<Message> messages() const;  // user and assistant turns; the system prompt is separate

    // --- events -------------------------------------------------------------------------
    std::optional<SessionEvent> poll_event();  // non-blocking
    std::optional<SessionEvent> wait_event(std::chrono::milliseconds timeout);
    // Called on the generator thread after each event is queued (e.g. write to a self-pipe
    // to wake the UI's poll loop). Must be cheap and must not call back into the session.
    void set_event_notifier(std::function<void()> notify);

    // --- live settings ------------------------------------------------------------------
    ChatSettings settings() const;
    void set_settings(const ChatSettings& settings);  // applies from the next token
    // By name, for `/set <param> <value>`: temp (temperature), top-k, top-p, min-p,
    // repeat-penalty, repeat-last-n, frequency-penalty, presence-penalty, seed, max-tokens
    // (n-predict / -n), keep. Underscores work like dashes. Throws natter::Error naming the
    // problem for an unknown name or a bad value; changes nothing then.
    void set(std::string_view name, std::string_view value);
    std::string get(std::string_view name) const;
    static std::vector<std::string> setting_names();

    std::string system_prompt() const;
    // Used from the next turn; "" means none (the template's default_system, if it has one).
    void set_system_prompt(const std::string& text);
    std::vector<std::string> reverse_prompts() const;
    void set_reverse_prompts(std::vector<std::string> prompts);

    // --- templates ------------------------------------------------------------------------
    std::vector<std::string> template_names() const;  // sorted
    std::string template_name() const;
    // Switches the format; the whole history is re-rendered in it for the next turn (a reply
    // streaming now keeps its format). Throws natter::Error for an unknown name (nothing changes).
    void set_template(const std::string& name);
    // Problems with user template files ("<file>: <problem>"), found at start-up.
    std::vector<std::string> template_warnings() const;

    // --- what the model sees ------------------------------------------------------------
    // The exact prompt text of the current context window as the next turn will render it
    // (BOS and special-token text included, dropped turns excluded), for /prompt.
    std::string prompt_text() const;
    // The token ids now in the KV cache (for tests and debugging).
    std::vector<int32_t> context_tokens() const;
    ContextUsage context() const;

    std::string model_name() const;   // general.name, else the file name without .gguf; remote: the server's model id
    std::string model_path() const;   // remote: the server's base URL
    std::string quant_type() const;   // e.g. "Q4_1"; remote: "remote"
    int n_threads() const;            // remote: 0
    // A model on a server (SessionOptions::remote): templates, /prompt and the context window
    // are the server's; everything else works as locally.
    bool is_remote() const;

    // --- transcripts ----------------------------------------------------------------------
    // JSON (versioned schema: messages with role, text, timestamps, token counts, speed; the
    // template, system prompt and settings). Written atomically: temp file, fsync, rename.
    void save(const std::filesystem::path& path) const;
    // Markdown, for reading and sharing; also atomic.
    void export_markdown(const std::filesystem::path& path) const;
    // By extension: ".md" / ".markdown" exports Markdown, anything else saves JSON.
    void save_as(const std::filesystem::path& path) const;
    // Replaces the conversation, system prompt, template (if known here) and settings with the
    // file's. A missing or malformed file throws natter::Error naming it and the problem, and
    // leaves the current chat untouched. Throws if busy.
    void load(const std::filesystem::path& path);
    // Writes the conversation to autosave_dir/<start time>.json if it has changed since the
    // last save / autosave and is not empty. Returns the file written, or "" if none.
    std::filesystem::path autosave();
    bool has_unsaved_changes() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace natter
