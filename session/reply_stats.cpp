// How a reply's numbers read to people: the per-reply line of both chats and /stats.
#include <cstdio>
#include <string>

#include "session/session.h"

namespace natter {

std::string_view stop_reason_text(StopReason reason) {
    switch (reason) {
        case StopReason::None: return "still running";
        case StopReason::EndOfText: return "end of text";
        case StopReason::StopString: return "the template's stop string";
        case StopReason::ReversePrompt: return "a reverse prompt";
        case StopReason::MaxTokens: return "the -n limit";
        case StopReason::ContextFull: return "context full";
        case StopReason::Cancelled: return "stopped by you";
        case StopReason::Error: return "an error";
    }
    return "still running";
}

std::string reply_stats_text(const ReplyStats& s, StopReason reason) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%d token%s \u00b7 %.1f tokens/s \u00b7 first token %.0f ms \u00b7 prompt %d tokens, %d evaluated in %.0f ms \u00b7 ",
                  s.completion_tokens, s.completion_tokens == 1 ? "" : "s", s.tokens_per_second(), s.ttft_ms,
                  s.prompt_tokens, s.prompt_evaluated, s.prompt_ms);
    return buf + std::string(stop_reason_text(reason));
}

}  // namespace natter
