// The remote model's side of a session: one streamed chat-completion request per reply.
#include "session/remote_backend.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "core/error.h"
#include "session/reply_filter.h"
#include "session/session_impl.h"

namespace natter {

namespace {

using Clock = std::chrono::steady_clock;

// Watches the session's stop flag (set by cancel(), even from a signal handler) while a
// request runs, and breaks the connection when it is set: a stalled stream stops at once too.
class CancelWatch {
public:
    CancelWatch(const std::atomic<bool>& stop, openai::HttpClient& client)
        : thread_([&stop, &client](std::stop_token done) {
              while (!done.stop_requested()) {
                  if (stop.load()) return client.cancel();
                  std::this_thread::sleep_for(std::chrono::milliseconds(20));
              }
          }) {}

private:
    std::jthread thread_;
};

}  // namespace

openai::ModelInfo choose_model(const std::vector<openai::ModelInfo>& offered, const std::string& requested,
                               const std::string& base_url) {
    if (offered.empty()) throw Error("The server at " + base_url + " offers no model (its /models list is empty).");
    if (requested.empty()) return offered.front();
    std::string names;
    for (const openai::ModelInfo& m : offered) {
        if (m.id == requested) return m;
        names += (names.empty() ? "" : ", ") + m.id;
    }
    throw Error("The server at " + base_url + " has no model \"" + requested + "\"; it offers: " + names +
                " (--remote-model picks one).");
}

openai::RequestSampling request_sampling(const ChatSettings& settings) {
    const SamplingParams& p = settings.sampling;
    openai::RequestSampling r;
    r.temperature = p.temperature;
    r.top_p = p.top_p;
    r.top_k = p.top_k;
    r.min_p = p.min_p;
    r.repeat_penalty = p.repeat_penalty;
    r.repeat_last_n = p.repeat_last_n;
    r.presence_penalty = p.presence_penalty;
    r.frequency_penalty = p.frequency_penalty;
    if (p.seed != kRandomSeed) r.seed = p.seed;
    r.max_tokens = settings.max_tokens;
    return r;
}

openai::ModelInfo find_remote_model(openai::HttpClient& client, const std::string& requested) {
    std::vector<openai::ModelInfo> offered;
    try {
        offered = openai::parse_models(client.get("/models"));
    } catch (const openai::RemoteError& e) {
        // A server without a model list still answers when told which model to ask for.
        if (e.kind != openai::RemoteError::Kind::Http || e.status != 404 || requested.empty()) {
            throw Error(std::string(e.what()) + ".");
        }
        offered = {openai::ModelInfo{requested, 0}};
    }
    return choose_model(offered, requested, client.base_url());
}

RemoteBackend::RemoteBackend(const RemoteOptions& options)
    : client_(openai::Endpoint{options.url, options.api_key, options.timeout_seconds, 10}),
      model_(find_remote_model(client_, options.model)) {}

int RemoteBackend::context_used() const { return context_used_.load(); }

void RemoteBackend::reply(Session::Impl& s) {
    std::vector<openai::ChatTurn> turns;
    ChatSettings settings;
    std::vector<std::string> reverse;
    Clock::time_point submitted;
    {
        std::lock_guard lock(s.mutex);
        ConversationView view{s.chat_template, s.system_prompt, {}, s.options.in_prefix, s.options.in_suffix};
        view.messages.assign(s.messages.begin(), s.messages.end() - 1);  // the last one is the reply
        for (const ChatMessage& m : view.window(0, 0)) turns.push_back({m.role, m.content});
        settings = s.settings;
        reverse = s.reverse_prompts;
        submitted = s.reply_requested;
    }
    ReplyStats stats;
    ReplyFilter filter({}, reverse);  // the server applies its template's stop strings
    openai::EventStream stream;
    int pieces = 0;
    Clock::time_point first_piece{};
    const auto on_event = [&](const openai::StreamEvent& e) {
        if (e.text.empty()) return true;
        if (++pieces == 1) {
            first_piece = Clock::now();
            stats.ttft_ms = ms_between(submitted, first_piece);
            SessionEvent first;
            first.kind = SessionEvent::Kind::FirstToken;
            first.stats = stats;
            s.events.push(std::move(first));
            s.events.notify();
        }
        s.emit_text(filter.push(e.text));
        return !filter.stopped();
    };

    StopReason reason = StopReason::None;
    std::string error;
    try {
        if (s.stop) throw openai::RemoteError(openai::RemoteError::Kind::Cancelled, "stopped");
        client_.rearm();
        CancelWatch watch(s.stop, client_);
        const std::string body = openai::chat_request(model_.id, turns, request_sampling(settings));
        client_.post_stream("/chat/completions", body, [&](std::string_view bytes) { return stream.push(bytes, on_event); });
        if (!stream.problem().empty()) {
            reason = StopReason::Error;
            error = stream.problem();
        } else if (filter.stopped()) {
            reason = filter.reason();
        } else if (!stream.complete()) {
            reason = StopReason::Error;
            error = "The stream from " + client_.base_url() + " ended before the reply was complete";
        } else if (stream.finish_reason == "length") {
            reason = settings.max_tokens >= 0 ? StopReason::MaxTokens : StopReason::ContextFull;
        } else {
            reason = StopReason::EndOfText;
        }
    } catch (const openai::RemoteError& e) {
        if (e.kind == openai::RemoteError::Kind::Cancelled || s.stop) {
            reason = StopReason::Cancelled;
        } else {
            reason = StopReason::Error;
            error = e.what();
        }
    } catch (const std::exception& e) {  // e.g. a request body that cannot be written
        reason = StopReason::Error;
        error = e.what();
    }
    if (!filter.stopped()) s.emit_text(filter.flush());
    if (reason == StopReason::Error) error += "; the chat is kept and /regen tries again.";
    if (reason == StopReason::MaxTokens) {
        s.notice("The reply stopped at the length limit of " + std::to_string(settings.max_tokens) +
                 " tokens (-n; /set max-tokens changes it).");
    } else if (reason == StopReason::ContextFull) {
        s.notice("The server stopped the reply at its length or context limit.");
    }

    const auto end = Clock::now();
    const std::optional<openai::Usage>& usage = stream.usage;
    if (usage) {
        stats.prompt_tokens = usage->prompt_tokens;
        stats.prompt_evaluated = usage->prompt_tokens - usage->cached_tokens;
        stats.completion_tokens = usage->completion_tokens;
        context_used_ = usage->prompt_tokens + usage->completion_tokens;
    } else {
        stats.completion_tokens = pieces;  // a server that does not count: its streamed pieces
    }
    if (stream.timings && stream.timings->prompt_n > 0) stats.prompt_ms = stream.timings->prompt_ms;
    if (pieces > 0) stats.generation_ms = ms_between(first_piece, end);
    s.end_reply(reason, stats, error);
}

}  // namespace natter
