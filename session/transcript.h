#pragma once
// Conversations on disk. JSON is the format that loads back (versioned schema below);
// Markdown is for people. Pure functions, so tests can check them without a model.
//
// {
//   "format": "natter-transcript", "version": 1,
//   "created": "2024-05-01T12:30:05.123Z", "saved": "...",          (UTC, ISO 8601)
//   "model": {"name": "...", "path": "...", "quant": "Q4_1"},
//   "template": "chatml", "system_prompt": "...",
//   "settings": {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
//                "repeat_penalty": 1.1, "repeat_last_n": 64, "frequency_penalty": 0,
//                "presence_penalty": 0, "seed": 42, "max_tokens": -1, "keep": 0,
//                "reverse_prompts": ["User:"]},
//   "messages": [
//     {"role": "user", "text": "...", "created": "..."},
//     {"role": "assistant", "text": "...", "created": "...", "finished": "...",
//      "interrupted": false, "stop_reason": "eos",
//      "tokens": {"prompt": 31, "prompt_evaluated": 31, "completion": 12},
//      "timing": {"prompt_ms": 210.5, "ttft_ms": 250.1, "generation_ms": 900.2, "tokens_per_second": 13.3}}
//   ]
// }
// Only "format", "version" and each message's "role" and "text" are required; a newer
// version than this build knows is refused.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "session/session.h"

namespace natter {

inline constexpr int kTranscriptVersion = 1;

struct Transcript {
    std::string model_name;
    std::string model_path;
    std::string quant;
    std::string template_name;
    std::string system_prompt;
    ChatSettings settings;
    int keep = 0;
    std::vector<std::string> reverse_prompts;
    WallClock::time_point created{};
    std::vector<Message> messages;
};

std::string transcript_to_json(const Transcript& t);
// Throws natter::Error "<source_name>: <problem>" for malformed JSON or a schema violation.
Transcript transcript_from_json(std::string_view json_text, std::string_view source_name);
std::string transcript_to_markdown(const Transcript& t);
// Reads and parses a transcript file: the one way a saved chat is read (Session::load and the
// session store use it). Throws natter::Error naming the file and the problem (missing, a
// directory, unreadable, malformed).
Transcript read_transcript(const std::filesystem::path& path);

// "2024-05-01T12:30:05.123Z"; parse_timestamp returns nullopt for anything else.
std::string format_timestamp(WallClock::time_point t);
std::optional<WallClock::time_point> parse_timestamp(std::string_view text);
// `t` in local time by strftime's `format` ("%Y-%m-%d %H:%M"), for file names and listings.
std::string format_local_time(WallClock::time_point t, const char* format);

}  // namespace natter
