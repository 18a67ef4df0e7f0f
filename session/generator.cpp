// The generator thread: renders the conversation, fits it into the context window, evaluates
// only what the KV cache lacks, then samples the reply token by token, streaming text pieces
// to the front end until a stop condition.
#include <algorithm>

#include "session/remote_backend.h"
#include "session/reply_filter.h"
#include "session/session_impl.h"
#include "core/error.h"

namespace natter {

namespace {

using Clock = std::chrono::steady_clock;

// One reply, from prompt to stop.
class ReplyRun {
public:
    explicit ReplyRun(Session::Impl& s) : s_(s), tok_(*s.tokenizer), n_ctx_(s.forward->n_ctx()) {}
    void run();

private:
    void snapshot();
    ChatSettings current_settings() const;
    int reserve() const;
    size_t pinned_count() const;
    // Chooses the window (dropping old turns if needed) for the prompt plus `reply_so_far`;
    // returns false if even the smallest window leaves no room.
    bool fit(const std::string& reply_so_far, int room, ContextCache::Plan& plan);
    void set_window(size_t pinned, size_t first);
    // Evaluates the plan in batches with progress events; empty span if cancelled.
    std::span<const float> evaluate(const ContextCache::Plan& plan);
    std::span<const float> eval_token(int32_t id, const std::string& piece);
    void emit(const std::string& text);

    void notify_cut(StopReason reason, int max_tokens);

public:
    void finish(StopReason reason, const std::string& error = {});

private:

    Session::Impl& s_;
    const Tokenizer& tok_;
    const int n_ctx_;
    ConversationView view_;
    std::vector<std::string> reverse_;
    int keep_ = 0;
    size_t pinned_ = 0;  // the window: messages [0, pinned_) and [first_kept_, end)
    size_t first_kept_ = 0;
    Clock::time_point submitted_;
    ReplyStats stats_;
};

void ReplyRun::snapshot() {
    std::lock_guard lock(s_.mutex);
    view_.chat_template = s_.chat_template;
    view_.system_prompt = s_.system_prompt;
    view_.user_prefix = s_.options.in_prefix;
    view_.user_suffix = s_.options.in_suffix;
    view_.messages.assign(s_.messages.begin(), s_.messages.end() - 1);  // the last one is the reply
    reverse_ = s_.reverse_prompts;
    keep_ = s_.keep;
    first_kept_ = std::min(s_.first_kept, view_.messages.size());
    pinned_ = std::min(s_.pinned, first_kept_);
    submitted_ = s_.reply_requested;
}

ChatSettings ReplyRun::current_settings() const {
    std::lock_guard lock(s_.mutex);
    return s_.settings;
}

// Room to leave for the reply when the window is chosen, so that a long chat does not drop
// turns at every token.
int ReplyRun::reserve() const {
    const int max_tokens = current_settings().max_tokens;
    const int quarter = std::max(1, n_ctx_ / 4);
    return max_tokens > 0 ? std::min(max_tokens, quarter) : quarter;
}

// Messages at the start that --keep protects: those that begin within its first tokens.
size_t ReplyRun::pinned_count() const {
    const size_t n = view_.messages.size();
    if (keep_ < 0) return std::min<size_t>(2, n);
    for (size_t i = 0; i < n; ++i) {
        const std::string before = view_.render(i, n, false);  // messages [0, i)
        const auto tokens = tokenize_prompt(tok_, *view_.chat_template, before, true);
        if (static_cast<int>(tokens.size()) >= keep_) return i;
    }
    return n;
}

bool ReplyRun::fit(const std::string& reply_so_far, int room, ContextCache::Plan& plan) {
    const auto tokenize = [&](std::string_view text, bool at_start) {
        return tokenize_prompt(tok_, *view_.chat_template, text, at_start);
    };
    const auto try_window = [&](size_t pinned, size_t first, int needed) {
        const std::string text = view_.render(pinned, first, true) + reply_so_far;
        plan = s_.cache.plan(text, tokenize);
        return plan.total() + needed <= n_ctx_;
    };
    if (try_window(pinned_, first_kept_, room)) return true;

    // Drop whole exchanges, oldest first, never the current message; --keep's messages last.
    const size_t pinned = first_kept_ > 0 ? pinned_ : pinned_count();
    for (size_t keep_pinned : {pinned, size_t{0}}) {
        const size_t from = std::max(first_kept_, keep_pinned);
        std::vector<size_t> starts;
        for (size_t i = from; i < view_.messages.size(); ++i) {
            if (i == from || view_.messages[i].role == Role::User) starts.push_back(i);
        }
        for (size_t first : starts) {
            if (try_window(keep_pinned, first, room) || (first == starts.back() && try_window(keep_pinned, first, 1))) {
                set_window(keep_pinned, first);
                return true;
            }
        }
        if (keep_pinned == 0) break;
    }
    return false;
}

void ReplyRun::set_window(size_t pinned, size_t first) {
    size_t dropped = 0, seen = 0;
    {
        std::lock_guard lock(s_.mutex);
        for (size_t i = 0; i < view_.messages.size(); ++i) {
            const bool in = i < pinned || i >= first;
            if (s_.messages[i].in_context && !in) ++dropped;
            if (in) ++seen;
            s_.messages[i].in_context = in;
        }
        s_.first_kept = first;
        s_.pinned = pinned;
    }
    first_kept_ = first;
    pinned_ = pinned;
    if (dropped > 0) {
        SessionEvent e;
        // Says what the model sees now, for this reply, not only what changed.
        e.text = "The context is full: " + std::to_string(dropped) + (dropped == 1 ? " more earlier message" : " more earlier messages") +
                 " left the model's view; for this reply it sees " + std::to_string(seen) + " of the chat's " +
                 std::to_string(view_.messages.size()) + " messages (the transcript keeps them all).";
        s_.events.push(std::move(e));
        s_.events.notify();
    }
}

std::span<const float> ReplyRun::evaluate(const ContextCache::Plan& plan) {
    const auto start = Clock::now();
    const int total = static_cast<int>(plan.tokens.size());
    const int batch = std::max(1, s_.options.n_batch);
    std::span<const float> logits;
    for (int done = 0; done < total;) {
        const int n = std::min(batch, total - done);
        logits = s_.forward->eval(std::span(plan.tokens).subspan(static_cast<size_t>(done), static_cast<size_t>(n)),
                                  plan.keep + done, false, &s_.stop);
        if (logits.empty()) break;
        done += n;
        SessionEvent e;
        e.kind = SessionEvent::Kind::PromptProgress;
        e.done = done;
        e.total = total;
        s_.events.push(std::move(e));
        s_.events.notify();
    }
    {
        std::lock_guard lock(s_.mutex);
        s_.cache.truncate(plan.keep);
        s_.cache.append(plan.tokens, plan.text_added);
        s_.cache.truncate(s_.forward->evaluated());
    }
    stats_.prompt_evaluated += s_.forward->evaluated() - plan.keep;
    stats_.prompt_ms += ms_between(start, Clock::now());
    return logits;
}

std::span<const float> ReplyRun::eval_token(int32_t id, const std::string& piece) {
    const int32_t one[1] = {id};
    const auto logits = s_.forward->eval(one, s_.cache.size(), false, &s_.stop);
    if (!logits.empty()) {
        std::lock_guard lock(s_.mutex);
        s_.cache.append(one, piece);
    }
    return logits;
}

void ReplyRun::emit(const std::string& text) { s_.emit_text(text); }

void ReplyRun::run() {
    snapshot();
    ContextCache::Plan plan;
    if (!fit("", reserve(), plan)) {
        throw Error("The conversation does not fit in the context of " + std::to_string(n_ctx_) + " tokens; raise -c or shorten the system prompt.");
    }
    if (plan.tokens.empty()) throw Error("There is nothing to send to the model.");
    std::span<const float> logits = evaluate(plan);
    stats_.prompt_tokens = s_.cache.size();
    if (logits.empty()) return finish(StopReason::Cancelled);

    ReplyFilter filter(view_.chat_template->stop, reverse_);
    Utf8Stream utf8;
    std::string raw;  // every sampled piece, what the model itself has seen of its reply
    const auto gen_start = Clock::now();
    StopReason reason = StopReason::None;
    while (reason == StopReason::None) {
        const ChatSettings settings = current_settings();
        if (s_.stop.load()) {
            reason = StopReason::Cancelled;
        } else if (settings.max_tokens >= 0 && stats_.completion_tokens >= settings.max_tokens) {
            reason = StopReason::MaxTokens;
        }
        if (reason != StopReason::None) break;
        s_.sampler->set_params(settings.sampling);
        const int32_t id = s_.sampler->sample(logits, s_.cache.tokens());
        if (++stats_.completion_tokens == 1) {
            stats_.ttft_ms = ms_between(submitted_, Clock::now());
            SessionEvent e;
            e.kind = SessionEvent::Kind::FirstToken;
            e.stats = stats_;
            s_.events.push(std::move(e));
            s_.events.notify();
        }
        if (tok_.is_eog(id)) {
            reason = StopReason::EndOfText;
            break;
        }
        const std::string piece = tok_.token_to_piece(id, true);
        raw += piece;
        emit(filter.push(utf8.push(piece)));
        if (filter.stopped()) break;
        if (settings.max_tokens >= 0 && stats_.completion_tokens >= settings.max_tokens) {
            reason = StopReason::MaxTokens;
            break;
        }
        if (s_.cache.size() < n_ctx_) {
            logits = eval_token(id, piece);
        } else if (fit(raw, std::max(1, n_ctx_ / 4), plan)) {
            logits = evaluate(plan);  // the window moved: the kept tail is evaluated again
        } else {
            reason = StopReason::ContextFull;
            break;
        }
        if (logits.empty()) reason = StopReason::Cancelled;
    }
    stats_.generation_ms = ms_between(gen_start, Clock::now());
    if (filter.stopped()) {
        reason = filter.reason();
    } else {
        emit(filter.push(utf8.flush()));
        emit(filter.flush());
    }
    notify_cut(reason, current_settings().max_tokens);
    finish(reason);
}

// Says why a reply stopped short, when the limit is not the model's own choice.
void ReplyRun::notify_cut(StopReason reason, int max_tokens) {
    SessionEvent e;
    if (reason == StopReason::MaxTokens) {
        e.text = "The reply stopped at the length limit of " + std::to_string(max_tokens) +
                 " tokens (-n; /set max-tokens changes it).";
    } else if (reason == StopReason::ContextFull) {
        e.text = "The reply stopped: it filled the whole context window of " + std::to_string(n_ctx_) +
                 " tokens (raise -c for longer replies).";
    } else {
        return;
    }
    s_.events.push(std::move(e));
    s_.events.notify();
}

void ReplyRun::finish(StopReason reason, const std::string& error) {
    {
        std::lock_guard lock(s_.mutex);
        s_.cache.truncate(s_.forward->evaluated());  // after an engine error, trust only the engine
    }
    s_.end_reply(reason, stats_, error);
}

}  // namespace

void Session::Impl::emit_text(const std::string& text) {
    if (text.empty()) return;
    {
        std::lock_guard lock(mutex);
        messages.back().text += text;
    }
    SessionEvent e;
    e.kind = SessionEvent::Kind::Text;
    e.text = text;
    events.push(std::move(e));
    events.notify();
}

void Session::Impl::notice(std::string text) {
    SessionEvent e;
    e.text = std::move(text);
    events.push(std::move(e));
    events.notify();
}

void Session::Impl::end_reply(StopReason reason, const ReplyStats& stats, const std::string& error) {
    const bool interrupted = reason == StopReason::Cancelled || reason == StopReason::Error;
    SessionEvent e;
    e.kind = interrupted ? SessionEvent::Kind::Interrupted : SessionEvent::Kind::Finished;
    e.reason = reason;
    e.stats = stats;
    e.text = error;
    {
        std::lock_guard lock(mutex);
        Message& m = messages.back();
        m.finished = WallClock::now();
        m.stop_reason = reason;
        m.interrupted = interrupted;
        m.stats = stats;
        busy = false;
        ++revision;
        // Queued under the lock: once busy() is false the final event is already there.
        events.push(std::move(e));
    }
    changed.notify_all();
    events.notify();
}

void Session::Impl::run() {
    std::unique_lock lock(mutex);
    while (true) {
        changed.wait(lock, [&] { return quit || job_posted; });
        if (quit) return;
        job_posted = false;
        lock.unlock();
        if (remote) {
            remote->reply(*this);  // ends the reply itself, failures included
        } else {
            ReplyRun reply(*this);
            try {
                reply.run();
            } catch (const std::exception& e) {
                reply.finish(StopReason::Error, e.what());  // engine failures end the reply, not the program
            }
        }
        lock.lock();
    }
}

}  // namespace natter
