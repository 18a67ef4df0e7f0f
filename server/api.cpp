#include "server/api.h"

#include <chrono>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <span>

#include "core/error.h"
#include "inference/model.h"
#include "inference/tokenizer.h"
#include "session/chat_prompt.h"

namespace natter::server {

namespace {

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::string: return "a string";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "an integer";
        case json::value_t::number_float: return "a number";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        default: return "null";
    }
}

// body[key] as T when present and not null; otherwise `fallback`. A value of another JSON type
// is an ApiError naming the field.
template <typename T>
T field(const json& body, const char* key, T fallback) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    const json& v = *it;
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
        ok = v.is_boolean();
    } else if constexpr (std::is_integral_v<T>) {
        // 4.0 is 4, as JSON does not tell them apart; 4.5 is not an integer.
        ok = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                       v.get<double>() == std::floor(v.get<double>()));
    } else if constexpr (std::is_floating_point_v<T>) {
        ok = v.is_number();
    } else {
        ok = v.is_string();
    }
    if (!ok) {
        const char* want = std::is_same_v<T, bool> ? "a boolean"
                           : std::is_integral_v<T> ? "an integer"
                           : std::is_floating_point_v<T> ? "a number" : "a string";
        throw ApiError::invalid("'" + std::string(key) + "' must be " + want + ", not " + type_name(v) + ".");
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        const double d = v.get<double>();
        // The first double past T's range (2^63 itself for int64_t, whose max has no double).
        const double past = static_cast<double>(std::numeric_limits<T>::max()) + (sizeof(T) < 8 ? 1.0 : 0.0);
        if (d < static_cast<double>(std::numeric_limits<T>::min()) || d >= past) {
            throw ApiError::invalid("'" + std::string(key) + "' is out of range.");
        }
        return v.is_number_float() ? static_cast<T>(d) : static_cast<T>(v.get<int64_t>());
    }
    return v.get<T>();
}

// --- Which fields a request may carry ----------------------------------------------------
// A field natter reads, one it accepts with no effect (what a client sends out of habit: the
// model's name, llama-server's knobs of samplers that are off), or a sampler / feature of
// llama-server's or OpenAI's that natter has not: accepted only with the value that asks for
// nothing, so that a request is never answered as though it had been honoured. Anything else
// is a 400 naming the field (as OpenAI's API answers an unrecognized argument).

bool is_null_or(const json& v, double x) { return v.is_null() || (v.is_number() && v.get<double>() == x); }
bool is_nothing(const json& v) {
    if (v.is_null()) return true;
    if (v.is_boolean()) return !v.get<bool>();
    if (v.is_number()) return v.get<double>() == 0;
    if (v.is_string()) return v.get_ref<const std::string&>().empty();
    return v.empty();  // an array or object
}

struct FieldRule {
    const char* key;
    bool (*neutral)(const json&);  // null: read, or accepted with any value
    const char* neutral_text;      // the value that asks for nothing, for the error
};

constexpr FieldRule kSamplingFields[] = {
    {"temperature", nullptr, nullptr}, {"top_k", nullptr, nullptr}, {"top_p", nullptr, nullptr},
    {"min_p", nullptr, nullptr}, {"repeat_penalty", nullptr, nullptr}, {"repeat_last_n", nullptr, nullptr},
    {"presence_penalty", nullptr, nullptr}, {"frequency_penalty", nullptr, nullptr}, {"seed", nullptr, nullptr},
    {"n_predict", nullptr, nullptr}, {"max_tokens", nullptr, nullptr}, {"max_completion_tokens", nullptr, nullptr},
    {"stop", nullptr, nullptr}, {"cache_prompt", nullptr, nullptr}, {"ignore_eos", nullptr, nullptr},
    {"n_probs", nullptr, nullptr}, {"stream", nullptr, nullptr}, {"stream_options", nullptr, nullptr},
    // Accepted, no effect here.
    {"model", nullptr, nullptr}, {"user", nullptr, nullptr}, {"metadata", nullptr, nullptr},
    {"store", nullptr, nullptr}, {"service_tier", nullptr, nullptr}, {"id_slot", nullptr, nullptr},
    {"n_keep", nullptr, nullptr}, {"min_keep", nullptr, nullptr}, {"timings_per_token", nullptr, nullptr},
    {"samplers", nullptr, nullptr}, {"dry_base", nullptr, nullptr}, {"dry_allowed_length", nullptr, nullptr},
    {"dry_penalty_last_n", nullptr, nullptr}, {"dry_sequence_breakers", nullptr, nullptr},
    {"mirostat_tau", nullptr, nullptr}, {"mirostat_eta", nullptr, nullptr}, {"xtc_threshold", nullptr, nullptr},
    {"dynatemp_exponent", nullptr, nullptr}, {"penalize_nl", nullptr, nullptr},
    {"parallel_tool_calls", nullptr, nullptr}, {"reasoning_format", nullptr, nullptr},
    // Not in natter: only the value that turns them off.
    {"mirostat", [](const json& v) { return is_nothing(v); }, "0"},
    {"typical_p", [](const json& v) { return is_null_or(v, 1); }, "1"},
    {"tfs_z", [](const json& v) { return is_null_or(v, 1); }, "1"},
    {"dynatemp_range", [](const json& v) { return is_nothing(v); }, "0"},
    {"xtc_probability", [](const json& v) { return is_nothing(v); }, "0"},
    {"dry_multiplier", [](const json& v) { return is_nothing(v); }, "0"},
    {"top_n_sigma", [](const json& v) { return v.is_null() || (v.is_number() && v.get<double>() <= 0); }, "-1"},
    {"logit_bias", [](const json& v) { return is_nothing(v); }, "an empty list"},
    {"grammar", [](const json& v) { return is_nothing(v); }, "\"\""},
    {"json_schema", [](const json& v) { return is_nothing(v); }, "null"},
    {"response_format", [](const json& v) { return v.is_null() || (v.is_object() && v.value("type", "") == "text"); },
     "{\"type\": \"text\"}"},
    {"tools", [](const json& v) { return is_nothing(v); }, "an empty list"},
    {"tool_choice", [](const json& v) { return v.is_null() || v == "none" || v == "auto"; }, "\"none\""},
    {"n", [](const json& v) { return is_null_or(v, 1); }, "1"},
    {"n_cmpl", [](const json& v) { return is_null_or(v, 1); }, "1"},
    {"best_of", [](const json& v) { return is_null_or(v, 1); }, "1"},
    {"echo", [](const json& v) { return is_nothing(v); }, "false"},
    {"logprobs", [](const json& v) { return is_nothing(v); }, "false (/completion's n_probs gives probabilities)"},
    {"top_logprobs", [](const json& v) { return is_nothing(v); }, "0"},
    {"suffix", [](const json& v) { return is_nothing(v); }, "\"\""},
    {"post_sampling_probs", [](const json& v) { return is_nothing(v); }, "false"},
    {"lora", [](const json& v) { return is_nothing(v); }, "an empty list"},
    {"n_indent", [](const json& v) { return is_nothing(v); }, "0"},
    {"t_max_predict_ms", [](const json& v) { return is_nothing(v); }, "0"},
    {"response_fields", [](const json& v) { return is_nothing(v); }, "an empty list"},
};

constexpr FieldRule kCompletionFields[] = {{"prompt", nullptr, nullptr}, {"return_tokens", nullptr, nullptr}};
constexpr FieldRule kChatFields[] = {{"messages", nullptr, nullptr}};
// A message: what natter reads, and what an OpenAI client sends back of a reply it got.
constexpr FieldRule kMessageFields[] = {
    {"role", nullptr, nullptr}, {"content", nullptr, nullptr}, {"name", nullptr, nullptr},
    {"refusal", [](const json& v) { return is_nothing(v); }, "null"},
    {"tool_calls", [](const json& v) { return is_nothing(v); }, "null"},
    {"function_call", [](const json& v) { return is_nothing(v); }, "null"},
    {"audio", [](const json& v) { return is_nothing(v); }, "null"},
    {"annotations", [](const json& v) { return is_nothing(v); }, "an empty list"},
    {"reasoning_content", [](const json& v) { return is_nothing(v); }, "null"},
};
constexpr FieldRule kTokenizeFields[] = {{"content", nullptr, nullptr}, {"add_special", nullptr, nullptr},
                                         {"parse_special", nullptr, nullptr}, {"with_pieces", nullptr, nullptr}};
constexpr FieldRule kDetokenizeFields[] = {{"tokens", nullptr, nullptr}};

// Each key of `object` must be in one of the tables, with a neutral value where its rule asks.
void check_fields(const json& object, std::initializer_list<std::span<const FieldRule>> tables, const char* what) {
    for (const auto& [key, value] : object.items()) {
        const FieldRule* rule = nullptr;
        for (std::span<const FieldRule> t : tables) {
            for (const FieldRule& r : t) {
                if (key == r.key) rule = &r;
            }
        }
        if (!rule) throw ApiError::invalid(std::string(what) + " has a field natter serve does not know: '" + key + "'.");
        if (rule->neutral && !rule->neutral(value)) {
            throw ApiError::invalid("'" + key + "' is not supported by natter serve: leave it out or set it to " +
                                    rule->neutral_text + ".");
        }
    }
}

std::vector<std::string> stop_strings(const json& body) {
    const auto it = body.find("stop");
    if (it == body.end() || it->is_null()) return {};
    if (it->is_string()) return {it->get<std::string>()};
    if (!it->is_array()) throw ApiError::invalid("'stop' must be a string or an array of strings.");
    std::vector<std::string> out;
    for (const json& s : *it) {
        if (!s.is_string()) throw ApiError::invalid("'stop' must be a string or an array of strings.");
        out.push_back(s.get<std::string>());
    }
    return out;
}

GenerationParams sampling_fields(const json& body, const ApiContext& ctx) {
    GenerationParams p = ctx.defaults;
    SamplingParams& s = p.sampling;
    s.temperature = field<float>(body, "temperature", s.temperature);
    s.top_k = field<int>(body, "top_k", s.top_k);
    s.top_p = field<float>(body, "top_p", s.top_p);
    s.min_p = field<float>(body, "min_p", s.min_p);
    s.repeat_penalty = field<float>(body, "repeat_penalty", s.repeat_penalty);
    s.repeat_last_n = field<int>(body, "repeat_last_n", s.repeat_last_n);
    s.presence_penalty = field<float>(body, "presence_penalty", s.presence_penalty);
    s.frequency_penalty = field<float>(body, "frequency_penalty", s.frequency_penalty);
    const int64_t seed = field<int64_t>(body, "seed", static_cast<int64_t>(s.seed));
    s.seed = seed < 0 ? kRandomSeed : static_cast<uint64_t>(seed);
    // OpenAI's max_tokens, llama.cpp's n_predict (which wins when both are given).
    // OpenAI's max_tokens (max_completion_tokens in its newer spelling), llama.cpp's n_predict
    // (which wins when both are given).
    p.n_predict = field<int>(body, "n_predict",
                             field<int>(body, "max_tokens", field<int>(body, "max_completion_tokens", p.n_predict)));
    if (p.n_predict < -1) throw ApiError::invalid("'n_predict' must be -1 (no limit) or more.");
    if (s.repeat_last_n < -1) throw ApiError::invalid("'repeat_last_n' must be -1 (the whole history) or more.");
    p.stop = stop_strings(body);
    p.cache_prompt = field<bool>(body, "cache_prompt", p.cache_prompt);
    p.ignore_eos = field<bool>(body, "ignore_eos", p.ignore_eos);
    p.n_probs = field<int>(body, "n_probs", 0);
    if (p.n_probs < 0 || p.n_probs > 100) throw ApiError::invalid("'n_probs' must be between 0 and 100.");
    return p;
}

// The prompt as token ids: text (BOS added as the model asks, special-token text parsed, as
// llama-server does), a list of ids, or a list holding one text.
std::vector<int32_t> prompt_tokens(const json& prompt, const Tokenizer& tok) {
    if (prompt.is_string()) return tok.tokenize(prompt.get<std::string>(), true, true);
    if (!prompt.is_array()) throw ApiError::invalid("'prompt' must be a string or an array of token ids.");
    if (prompt.size() == 1 && prompt[0].is_string()) return tok.tokenize(prompt[0].get<std::string>(), true, true);
    return token_ids(prompt, tok, "prompt");
}

// The fields every completion request shares.
CompletionRequest common_fields(const json& body, const ApiContext& ctx) {
    CompletionRequest req;
    req.params = sampling_fields(body, ctx);
    req.stream = field<bool>(body, "stream", false);
    const auto it = body.find("stream_options");
    if (it != body.end() && it->is_object()) req.include_usage = field<bool>(*it, "include_usage", false);
    return req;
}

void check_fits(const std::vector<int32_t>& tokens, const ApiContext& ctx) {
    if (tokens.empty()) throw ApiError::invalid("The prompt is empty.");
    if (static_cast<int>(tokens.size()) >= ctx.slot_n_ctx) {
        throw ApiError(400, "exceed_context_size_error",
                       "The prompt is " + std::to_string(tokens.size()) + " tokens long, which does not fit in a slot's context of " +
                           std::to_string(ctx.slot_n_ctx) + " tokens (raise -c or lower -np).");
    }
}

const char* stop_type_name(StopType s) {
    switch (s) {
        case StopType::Eos: return "eos";
        case StopType::Limit: return "limit";
        case StopType::Word: return "word";
        default: return "none";
    }
}

double per_second(int n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; }

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<int32_t> token_ids(const json& array, const Tokenizer& tok, const char* name) {
    if (!array.is_array()) throw ApiError::invalid("'" + std::string(name) + "' must be an array of token ids.");
    std::vector<int32_t> ids;
    for (const json& id : array) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tok.n_vocab()) {
            throw ApiError::invalid("'" + std::string(name) + "' holds " + id.dump() +
                                    ", which is not a token id of this model (0 to " + std::to_string(tok.n_vocab() - 1) + ").");
        }
        ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    return ids;
}

void check_tokenize_fields(const json& body) { check_fields(body, {kTokenizeFields}, "The request"); }
void check_detokenize_fields(const json& body) { check_fields(body, {kDetokenizeFields}, "The request"); }

json error_json(int status, const std::string& type, const std::string& message) {
    return {{"error", {{"code", status}, {"message", message}, {"type", type}}}};
}

json parse_body(const std::string& body) {
    json j;
    try {
        j = json::parse(body);
    } catch (const json::parse_error& e) {
        std::string what = e.what();
        // nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
        if (const size_t at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
        throw ApiError::invalid("The request body is not valid JSON: " + what);
    }
    if (!j.is_object()) throw ApiError::invalid("The request body must be a JSON object, not " + std::string(type_name(j)) + ".");
    return j;
}

CompletionRequest parse_completion(const json& body, const ApiContext& ctx) {
    check_fields(body, {kSamplingFields, kCompletionFields}, "The request");
    CompletionRequest req = common_fields(body, ctx);
    const auto it = body.find("prompt");
    if (it == body.end()) throw ApiError::invalid("The request has no 'prompt'.");
    const Tokenizer& tok = ctx.model->tokenizer();
    req.params.prompt = prompt_tokens(*it, tok);
    req.return_tokens = field<bool>(body, "return_tokens", false);
    check_fits(req.params.prompt, ctx);
    req.prompt_text = it->is_string() ? it->get<std::string>()
                      : (it->size() == 1 && (*it)[0].is_string()) ? (*it)[0].get<std::string>()
                      : tok.detokenize(req.params.prompt, true);
    return req;
}

CompletionRequest parse_chat(const json& body, const ApiContext& ctx) {
    check_fields(body, {kSamplingFields, kChatFields}, "The request");
    CompletionRequest req = common_fields(body, ctx);
    const auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty()) {
        throw ApiError::invalid("'messages' must be a non-empty array of {\"role\", \"content\"} objects.");
    }
    std::vector<ChatMessage> messages;
    for (const json& m : *it) {
        if (!m.is_object()) throw ApiError::invalid("Each message must be an object with 'role' and 'content'.");
        check_fields(m, {kMessageFields}, "A message");
        const std::string role = field<std::string>(m, "role", "");
        if (role != "system" && role != "user" && role != "assistant") {
            throw ApiError::invalid("A message's 'role' must be \"system\", \"user\" or \"assistant\", not \"" + role + "\".");
        }
        std::string content;
        const auto c = m.find("content");
        if (c != m.end() && c->is_array()) {  // OpenAI's content parts: the text ones, joined
            for (const json& part : *c) {
                if (part.is_object() && part.value("type", "") == "text") content += field<std::string>(part, "text", "");
            }
        } else {
            content = field<std::string>(m, "content", "");
        }
        messages.push_back({role, content});
    }
    const ChatTemplate& t = *ctx.chat_template;
    try {
        req.prompt_text = t.render(messages, true);
    } catch (const Error& e) {
        throw ApiError::invalid(e.what());
    }
    req.params.prompt = tokenize_prompt(ctx.model->tokenizer(), t, req.prompt_text, true);
    check_fits(req.params.prompt, ctx);
    req.params.stop.insert(req.params.stop.end(), t.stop.begin(), t.stop.end());
    return req;
}

json generation_settings(const GenerationParams& p, const ApiContext& ctx) {
    const SamplingParams& s = p.sampling;
    // The samplers llama-server has and natter has not are reported off, as they are here.
    return {
        {"seed", s.seed}, {"temperature", s.temperature}, {"dynatemp_range", 0.0}, {"dynatemp_exponent", 1.0},
        {"top_k", s.top_k}, {"top_p", s.top_p}, {"min_p", s.min_p}, {"top_n_sigma", -1.0},
        {"xtc_probability", 0.0}, {"xtc_threshold", 0.1}, {"typical_p", 1.0}, {"repeat_last_n", s.repeat_last_n},
        {"repeat_penalty", s.repeat_penalty}, {"presence_penalty", s.presence_penalty},
        {"frequency_penalty", s.frequency_penalty}, {"dry_multiplier", 0.0}, {"dry_base", 1.75},
        {"dry_allowed_length", 2}, {"dry_penalty_last_n", -1}, {"dry_sequence_breakers", json::array()},
        {"mirostat", 0}, {"mirostat_tau", 5.0}, {"mirostat_eta", 0.1}, {"adaptive_target", -1.0},
        {"adaptive_decay", 0.9}, {"stop", p.stop}, {"max_tokens", p.n_predict}, {"n_predict", p.n_predict},
        {"n_keep", 0}, {"n_discard", 0}, {"ignore_eos", p.ignore_eos}, {"stream", false},
        {"logit_bias", json::array()}, {"n_probs", p.n_probs}, {"min_keep", 0}, {"grammar", ""},
        {"grammar_lazy", false}, {"grammar_triggers", json::array()}, {"preserved_tokens", json::array()},
        {"chat_format", "Content-only"}, {"reasoning_format", "none"}, {"reasoning_in_content", false},
        {"generation_prompt", ctx.chat_template ? ctx.chat_template->generation_prompt : ""},
        {"samplers", {"penalties", "top_k", "top_p", "min_p", "temperature"}}, {"speculative.types", "none"},
        {"timings_per_token", false}, {"post_sampling_probs", false}, {"backend_sampling", false},
        {"lora", json::array()}, {"model", ctx.model_name}, {"n_ctx", ctx.slot_n_ctx},
    };
}

json timings_json(const GenerationResult& r) {
    const int prompt_n = r.n_prompt - r.n_cached;
    return {{"cache_n", r.n_cached},
            {"prompt_n", prompt_n},
            {"prompt_ms", r.prompt_ms},
            {"prompt_per_token_ms", prompt_n > 0 ? r.prompt_ms / prompt_n : 0.0},
            {"prompt_per_second", per_second(prompt_n, r.prompt_ms)},
            {"predicted_n", r.n_predicted},
            {"predicted_ms", r.predicted_ms},
            {"predicted_per_token_ms", r.n_predicted > 0 ? r.predicted_ms / r.n_predicted : 0.0},
            {"predicted_per_second", per_second(r.n_predicted, r.predicted_ms)}};
}

json completion_json(const GenerationResult& r, const CompletionRequest& req, const ApiContext& ctx) {
    json settings = generation_settings(req.params, ctx);
    settings["stream"] = req.stream;
    json probs = json::array();
    for (const TokenProbs& p : r.probs) probs.push_back(probs_json(p, ctx.model->tokenizer()));
    json j = {{"index", 0},
              {"content", req.stream ? "" : r.content},
              {"tokens", req.return_tokens && !req.stream ? json(r.tokens) : json::array()},
              {"id_slot", r.slot},
              {"stop", true},
              {"model", ctx.model_name},
              {"tokens_predicted", r.n_predicted},
              {"tokens_evaluated", r.n_prompt},
              {"generation_settings", settings},
              {"prompt", req.prompt_text},
              {"has_new_line", r.content.find('\n') != std::string::npos},
              {"truncated", r.truncated},
              {"stop_type", stop_type_name(r.stop)},
              {"stopping_word", r.stopping_word},
            // The older spellings the guides show, beside stop_type.
              {"stopped_eos", r.stop == StopType::Eos},
              {"stopped_limit", r.stop == StopType::Limit},
              {"stopped_word", r.stop == StopType::Word},
              {"tokens_cached", r.n_prompt + r.n_predicted},
              {"timings", timings_json(r)}};
    if (req.params.n_probs > 0 && !req.stream) j["completion_probabilities"] = probs;
    return j;
}

json probs_json(const TokenProbs& p, const Tokenizer& tok) {
    const auto entry = [&](int32_t id, float prob) {
        const std::string piece = tok.token_to_piece(id, true);
        Utf8Stream utf8;  // the token's text as valid UTF-8; its exact bytes beside it
        std::vector<int> bytes;
        for (unsigned char b : piece) bytes.push_back(b);
        return json{{"id", id}, {"token", utf8.push(piece) + utf8.flush()}, {"bytes", bytes}, {"logprob", std::log(prob)}};
    };
    json top = json::array();
    for (const TokenProb& t : p.top) top.push_back(entry(t.id, t.prob));
    json j = entry(p.id, p.prob);
    j["top_logprobs"] = top;
    return j;
}

json completion_chunk(const Piece& piece, int n_predicted, int n_prompt, const Tokenizer& tok) {
    json tokens = json::array();
    if (piece.token >= 0) tokens.push_back(piece.token);
    json j = {{"index", 0},        {"content", piece.text},           {"tokens", tokens},
              {"stop", false},     {"id_slot", -1},                   {"tokens_predicted", n_predicted},
              {"tokens_evaluated", n_prompt}};
    if (piece.probs) j["completion_probabilities"] = json::array({probs_json(*piece.probs, tok)});
    return j;
}

std::string finish_reason(const GenerationResult& r) { return r.stop == StopType::Limit ? "length" : "stop"; }

json usage_json(const GenerationResult& r) {
    return {{"completion_tokens", r.n_predicted},
            {"prompt_tokens", r.n_prompt},
            {"total_tokens", r.n_prompt + r.n_predicted},
            {"prompt_tokens_details", {{"cached_tokens", r.n_cached}}}};
}

json oai_completion_json(const GenerationResult& r, const ApiContext& ctx, const std::string& id, bool chat) {
    json choice = {{"finish_reason", finish_reason(r)}, {"index", 0}};
    if (chat) {
        choice["message"] = {{"role", "assistant"}, {"content", r.content}};
    } else {
        choice["text"] = r.content;
        choice["logprobs"] = nullptr;
    }
    return {{"choices", json::array({choice})},
            {"created", unix_now()},
            {"model", ctx.model_name},
            {"system_fingerprint", "natter-0.1.0"},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"usage", usage_json(r)},
            {"id", id},
            {"timings", timings_json(r)}};
}

json oai_chunk(const std::string& text, const std::string* finish, const ApiContext& ctx, const std::string& id,
               bool chat, bool first) {
    json choice = {{"finish_reason", finish ? json(*finish) : json(nullptr)}, {"index", 0}};
    if (chat) {
        if (first) {
            choice["delta"] = {{"role", "assistant"}, {"content", nullptr}};
        } else if (finish) {
            choice["delta"] = json::object();
        } else {
            choice["delta"] = {{"content", text}};
        }
    } else {
        choice["text"] = text;
        choice["logprobs"] = nullptr;
    }
    return {{"choices", json::array({choice})}, {"created", unix_now()},
            {"id", id},                           {"model", ctx.model_name},
            {"system_fingerprint", "natter-0.1.0"}, {"object", chat ? "chat.completion.chunk" : "text_completion"}};
}

}  // namespace natter::server
