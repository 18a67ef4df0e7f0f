#pragma once
// The JSON of OpenAI's /v1/chat/completions, /v1/completions and /v1/models as a client sends
// and reads it (the shapes natter serve, llama-server, vLLM and ollama share), without HTTP.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openai/sse.h"

namespace natter::openai {

struct ChatTurn {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

// The sampling fields a request carries. OpenAI's own are always sent; llama.cpp's extras
// (top_k, min_p, repeat_penalty, repeat_last_n), which vLLM and llama-server read too, as well.
struct RequestSampling {
    float temperature = 0.8f;
    float top_p = 0.95f;
    int top_k = 40;
    float min_p = 0.05f;
    float repeat_penalty = 1.0f;
    int repeat_last_n = 64;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    std::optional<uint64_t> seed;  // none: the server picks
    int max_tokens = -1;           // -1: not sent (the server's limit)
    std::vector<std::string> stop;
};

// A streamed request body (stream_options.include_usage asks for the usage counts at the end).
std::string chat_request(const std::string& model, const std::vector<ChatTurn>& turns, const RequestSampling& s);
std::string completion_request(const std::string& model, const std::string& prompt, const RequestSampling& s);

struct Usage {
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_tokens = 0;  // prompt_tokens_details.cached_tokens, when the server says
};

// llama-server's (and natter serve's) "timings", when a server sends them.
struct Timings {
    int prompt_n = 0;
    double prompt_ms = 0;
    int predicted_n = 0;
    double predicted_ms = 0;
};

// One streamed event's data, parsed.
struct StreamEvent {
    bool done = false;                      // "[DONE]"
    std::string text;                       // delta.content (chat) or text (completions)
    std::optional<std::string> finish_reason;
    std::optional<Usage> usage;
    std::optional<Timings> timings;
    std::optional<std::string> model;
    std::optional<std::string> error;       // an error object sent inside the stream: its message
};
// Throws natter::Error ("The server sent ... which is not ...") for data that is not one.
StreamEvent parse_stream_event(std::string_view data);

// One streamed answer read from its bytes as they arrive: events reassembled and parsed, and
// what the stream said of its end (the last finish_reason, usage and timings it sent).
class EventStream {
public:
    // Hands each event with content or counts to on_event (whose false stops reading). False
    // once the stream is over: [DONE], an error event or an unreadable one (problem() says).
    bool push(std::string_view bytes, const std::function<bool(const StreamEvent&)>& on_event);
    // The stream ended as streams should: [DONE] or a finish_reason came.
    bool complete() const { return done_ || finish_reason.has_value(); }
    const std::string& problem() const { return problem_; }  // "" when none

    std::optional<std::string> finish_reason;
    std::optional<Usage> usage;
    std::optional<Timings> timings;

private:
    SseParser sse_;
    bool done_ = false;
    std::string problem_;
};

// The message of an error body: {"error": {"message": ...}}, {"error": "..."}, {"detail": ...}
// (vLLM's older form), else the body's first line (shortened); "" for an empty body.
std::string error_message(std::string_view body);

struct ModelInfo {
    std::string id;
    int n_ctx = 0;  // meta.n_ctx, the context a request gets (natter serve says it); 0: unknown
};
// GET /v1/models' {"data": [{"id": ...}, ...]}; throws natter::Error for another shape.
std::vector<ModelInfo> parse_models(std::string_view body);

}  // namespace natter::openai
