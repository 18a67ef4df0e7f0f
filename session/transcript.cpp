#include "session/transcript.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace natter {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "natter-transcript";

StopReason stop_reason_from_name(std::string_view name) {
    for (int r = 0; r <= static_cast<int>(StopReason::Error); ++r) {
        if (stop_reason_name(static_cast<StopReason>(r)) == name) return static_cast<StopReason>(r);
    }
    return StopReason::None;
}

json settings_to_json(const Transcript& t) {
    const SamplingParams& s = t.settings.sampling;
    return {{"temperature", s.temperature},          {"top_k", s.top_k},
            {"top_p", s.top_p},                      {"min_p", s.min_p},
            {"repeat_penalty", s.repeat_penalty},    {"repeat_last_n", s.repeat_last_n},
            {"frequency_penalty", s.frequency_penalty}, {"presence_penalty", s.presence_penalty},
            {"seed", s.seed},                        {"max_tokens", t.settings.max_tokens},
            {"keep", t.keep},                        {"reverse_prompts", t.reverse_prompts}};
}

json message_to_json(const Message& m) {
    json j = {{"role", role_name(m.role)}, {"text", m.text}, {"created", format_timestamp(m.created)}};
    if (m.role != Role::Assistant) return j;
    const ReplyStats& s = m.stats;
    j["finished"] = format_timestamp(m.finished);
    j["interrupted"] = m.interrupted;
    j["stop_reason"] = stop_reason_name(m.stop_reason);
    j["tokens"] = {{"prompt", s.prompt_tokens}, {"prompt_evaluated", s.prompt_evaluated}, {"completion", s.completion_tokens}};
    j["timing"] = {{"prompt_ms", s.prompt_ms},
                   {"ttft_ms", s.ttft_ms},
                   {"generation_ms", s.generation_ms},
                   {"tokens_per_second", s.tokens_per_second()}};
    return j;
}

// Reads an optional member, checking its type; `where` names it in errors.
template <typename T>
void read_optional(const json& object, const char* key, T& out, const std::string& where) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return;
    try {
        out = it->get<T>();
    } catch (const json::exception&) {
        throw Error(where + "\"" + key + "\" has the wrong type (" + it->type_name() + ").");
    }
}

void read_time(const json& object, const char* key, WallClock::time_point& out, const std::string& where) {
    std::string text;
    read_optional(object, key, text, where);
    if (text.empty()) return;
    const auto t = parse_timestamp(text);
    if (!t) throw Error(where + "\"" + key + "\" is not a timestamp like 2024-05-01T12:30:05.000Z.");
    out = *t;
}

void read_settings(const json& j, Transcript& t, const std::string& where) {
    if (!j.is_object()) throw Error(where + "\"settings\" must be an object.");
    SamplingParams& s = t.settings.sampling;
    read_optional(j, "temperature", s.temperature, where);
    read_optional(j, "top_k", s.top_k, where);
    read_optional(j, "top_p", s.top_p, where);
    read_optional(j, "min_p", s.min_p, where);
    read_optional(j, "repeat_penalty", s.repeat_penalty, where);
    read_optional(j, "repeat_last_n", s.repeat_last_n, where);
    read_optional(j, "frequency_penalty", s.frequency_penalty, where);
    read_optional(j, "presence_penalty", s.presence_penalty, where);
    read_optional(j, "seed", s.seed, where);
    read_optional(j, "max_tokens", t.settings.max_tokens, where);
    read_optional(j, "keep", t.keep, where);
    read_optional(j, "reverse_prompts", t.reverse_prompts, where);
}

Message read_message(const json& j, size_t index, const std::string& source) {
    const std::string where = source + ": message " + std::to_string(index + 1) + ": ";
    if (!j.is_object()) throw Error(where + "must be an object.");
    if (!j.contains("role") || !j.contains("text")) throw Error(where + "needs \"role\" and \"text\".");
    Message m;
    std::string role;
    read_optional(j, "role", role, where);
    if (role == "user") {
        m.role = Role::User;
    } else if (role == "assistant") {
        m.role = Role::Assistant;
    } else {
        throw Error(where + "the role \"" + role + "\" is not user or assistant.");
    }
    read_optional(j, "text", m.text, where);
    read_time(j, "created", m.created, where);
    m.finished = m.created;
    read_time(j, "finished", m.finished, where);
    read_optional(j, "interrupted", m.interrupted, where);
    std::string reason;
    read_optional(j, "stop_reason", reason, where);
    m.stop_reason = stop_reason_from_name(reason);
    if (const auto it = j.find("tokens"); it != j.end() && it->is_object()) {
        read_optional(*it, "prompt", m.stats.prompt_tokens, where);
        read_optional(*it, "prompt_evaluated", m.stats.prompt_evaluated, where);
        read_optional(*it, "completion", m.stats.completion_tokens, where);
    }
    if (const auto it = j.find("timing"); it != j.end() && it->is_object()) {
        read_optional(*it, "prompt_ms", m.stats.prompt_ms, where);
        read_optional(*it, "ttft_ms", m.stats.ttft_ms, where);
        read_optional(*it, "generation_ms", m.stats.generation_ms, where);
    }
    return m;
}

}  // namespace

std::string format_timestamp(WallClock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - static_cast<int64_t>(secs) * 1000));
    return buf;
}

std::optional<WallClock::time_point> parse_timestamp(std::string_view text) {
    std::tm tm{};
    int millis = 0, consumed = 0;
    const std::string s(text);
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &millis, &consumed) != 7 ||
        consumed != static_cast<int>(s.size())) {
        return std::nullopt;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60 || millis < 0) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t secs = timegm(&tm);
    return WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(std::chrono::seconds(secs) +
                                                                                   std::chrono::milliseconds(millis)));
}

std::string transcript_to_json(const Transcript& t) {
    json messages = json::array();
    for (const auto& m : t.messages) messages.push_back(message_to_json(m));
    const json j = {{"format", kFormat},
                    {"version", kTranscriptVersion},
                    {"created", format_timestamp(t.created)},
                    {"saved", format_timestamp(WallClock::now())},
                    {"model", {{"name", t.model_name}, {"path", t.model_path}, {"quant", t.quant}}},
                    {"template", t.template_name},
                    {"system_prompt", t.system_prompt},
                    {"settings", settings_to_json(t)},
                    {"messages", std::move(messages)}};
    // Invalid UTF-8 (a reply cut inside a character) is replaced, never a failed save.
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Transcript transcript_from_json(std::string_view json_text, std::string_view source_name) {
    const std::string source(source_name);
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::parse_error& e) {
        // e.what() is the library's own wording ("[json.exception.parse_error.101] ..."): say it ours.
        throw Error(source + " is not a saved chat: it is not valid JSON (the error is at byte " +
                    std::to_string(e.byte) + ").");
    }
    if (!j.is_object() || j.value("format", "") != kFormat) throw Error(source + ": not a natter transcript.");
    const std::string where = source + ": ";
    int version = 0;
    read_optional(j, "version", version, where);
    if (version < 1) throw Error(source + ": the transcript has no valid \"version\".");
    if (version > kTranscriptVersion) {
        throw Error(source + ": written by a newer natter (transcript version " + std::to_string(version) + ").");
    }
    Transcript t;
    read_time(j, "created", t.created, where);
    if (const auto it = j.find("model"); it != j.end() && it->is_object()) {
        read_optional(*it, "name", t.model_name, where);
        read_optional(*it, "path", t.model_path, where);
        read_optional(*it, "quant", t.quant, where);
    }
    read_optional(j, "template", t.template_name, where);
    read_optional(j, "system_prompt", t.system_prompt, where);
    if (j.contains("settings")) read_settings(j["settings"], t, where);
    const auto it = j.find("messages");
    if (it == j.end() || !it->is_array()) throw Error(source + ": \"messages\" must be a list.");
    for (size_t i = 0; i < it->size(); ++i) t.messages.push_back(read_message((*it)[i], i, source));
    return t;
}

std::string transcript_to_markdown(const Transcript& t) {
    const SamplingParams& s = t.settings.sampling;
    char settings[200];
    std::snprintf(settings, sizeof settings, "temp %g, top-k %d, top-p %g, min-p %g, repeat penalty %g",
                  static_cast<double>(s.temperature), s.top_k, static_cast<double>(s.top_p),
                  static_cast<double>(s.min_p), static_cast<double>(s.repeat_penalty));
    std::string out = "# Chat with " + (t.model_name.empty() ? std::string("a model") : t.model_name) + "\n\n";
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + string chains.
    out += '*';
    out += format_timestamp(t.created);
    out += " · ";
    if (!t.quant.empty()) out.append(t.quant).append(" · ");
    out.append("template ").append(t.template_name).append(" · ").append(settings).append("*\n\n");
    if (!t.system_prompt.empty()) out += "**System:** " + t.system_prompt + "\n\n";
    for (const auto& m : t.messages) {
        out += m.role == Role::User ? "### User\n\n" : "### Assistant\n\n";
        out += m.text + "\n\n";
        if (m.role != Role::Assistant) continue;
        char line[160];
        std::snprintf(line, sizeof line, "*%d tokens, %.1f tokens/s%s*\n\n", m.stats.completion_tokens,
                      m.stats.tokens_per_second(), m.interrupted ? ", interrupted" : "");
        out += line;
    }
    return out;
}

}  // namespace natter
