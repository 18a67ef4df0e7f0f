#pragma once
// Session internals shared by session.cpp (the front-end side), generator.cpp (the generator
// thread) and session_io.cpp (transcripts). Not part of the public interface.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "session/chat_prompt.h"
#include "session/context_cache.h"
#include "session/session.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "prompts/template.h"

namespace natter {

class RemoteBackend;

// Events from the generator thread to the front end.
class EventQueue {
public:
    void push(SessionEvent event);
    std::optional<SessionEvent> pop();
    std::optional<SessionEvent> wait_pop(std::chrono::milliseconds timeout);
    void set_notifier(std::function<void()> notify);
    void notify();  // call without holding the session lock

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<SessionEvent> events_;
    std::mutex notify_mutex_;
    std::function<void()> notify_;
};

struct Session::Impl {
    Impl(std::shared_ptr<const Model> model, const SessionOptions& options);
    ~Impl();

    // --- fixed after construction ---
    std::shared_ptr<const Model> model;   // null for a remote session
    const Tokenizer* tokenizer = nullptr;  // the model's; null for a remote session
    std::unique_ptr<RemoteBackend> remote;  // the server's model, or null for the local one
    SessionOptions options;
    TemplateRegistry templates;
    WallClock::time_point created;

    // --- shared state, guarded by `mutex` ---
    mutable std::mutex mutex;
    mutable std::condition_variable changed;  // job posted, reply finished, quit
    const ChatTemplate* chat_template = nullptr;
    std::string system_prompt;
    ChatSettings settings;
    std::vector<std::string> reverse_prompts;
    int keep = 0;
    std::vector<Message> messages;
    // The context window: messages [0, pinned) and [first_kept, end); the others were dropped.
    size_t pinned = 0;
    size_t first_kept = 0;
    std::chrono::steady_clock::time_point reply_requested;  // for time to first token
    bool busy = false;        // a reply is being generated (set by the front end when posting)
    bool job_posted = false;  // the generator has a reply to start
    bool quit = false;
    // Written by the generator thread only (under the lock), read by the front end.
    ContextCache cache;
    // Changes to the conversation; saved_revision is the one last written to disk.
    uint64_t revision = 0;
    mutable uint64_t saved_revision = 0;
    mutable std::filesystem::path autosave_path;

    std::atomic<bool> stop{false};
    EventQueue events;
    // Owned by the generator thread.
    std::unique_ptr<Forward> forward;
    std::unique_ptr<Sampler> sampler;
    std::thread thread;

    // Front end (lock held): checks the conversation may change now.
    void require_idle() const;
    // Front end (lock held): refuses a user message that cannot fit in the context.
    void check_fits(const std::string& user_text) const;
    // Front end (lock held): adds the empty reply and wakes the generator.
    void start_reply();
    // Front end (lock held, idle): after the conversation was replaced or shortened (/clear,
    // /undo, /load), forgets the cached positions it no longer starts with, so that
    // context() counts what the conversation holds, not what an earlier one left.
    void trim_cache_to_conversation();

    // Generator thread (generator.cpp).
    void run();
    // Generator thread: appends a piece of the reply and reports it.
    void emit_text(const std::string& text);
    // Any thread: a Notice event.
    void notice(std::string text);
    // Generator thread: the reply ended; stores its outcome and sends the final event.
    void end_reply(StopReason reason, const ReplyStats& stats, const std::string& error);
};

// The conversation as one reply sees it: copied when the reply starts, so that the front end
// may switch template or system prompt meanwhile (they apply from the next turn).
struct ConversationView {
    const ChatTemplate* chat_template = nullptr;
    std::string system_prompt;
    std::vector<Message> messages;  // the history before the reply
    std::string user_prefix;        // SessionOptions::in_prefix / in_suffix, around each user message
    std::string user_suffix;

    // The system prompt, messages [0, pinned) and [first, end) as the template's input.
    std::vector<ChatMessage> window(size_t pinned, size_t first) const;
    std::string render(size_t pinned, size_t first, bool add_generation_prompt) const;
};

// Milliseconds from a to b, for the reply numbers.
inline double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Writes data to path so that a crash at any moment leaves the old file or the new one:
// temporary file in the same folder, fsync, rename, fsync of the folder.
void write_file_atomically(const std::filesystem::path& path, std::string_view data);

}  // namespace natter
