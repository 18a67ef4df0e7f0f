#include "server/endpoints.h"

#include <filesystem>
#include <sstream>

#include "inference/model.h"
#include "inference/tokenizer.h"

namespace natter::server {

namespace {

bool flag(const json& body, const char* key, bool fallback) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw ApiError::invalid("'" + std::string(key) + "' must be a boolean.");
    return it->get<bool>();
}

std::string token_text_or_empty(const Tokenizer& tok, int32_t id) { return id >= 0 ? std::string(tok.token_text(id)) : ""; }

uint64_t file_size(const std::string& path) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<uint64_t>(n);
}

// One metric in Prometheus' text format.
void metric(std::ostringstream& out, const char* name, const char* type, const char* help, double value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
}

}  // namespace

json tokenize_json(const json& body, const Model& model) {
    check_tokenize_fields(body);
    const auto it = body.find("content");
    if (it == body.end() || !it->is_string()) throw ApiError::invalid("'content' must be a string.");
    const Tokenizer& tok = model.tokenizer();
    const auto ids = tok.tokenize(it->get<std::string>(), flag(body, "add_special", false), flag(body, "parse_special", true));
    if (!flag(body, "with_pieces", false)) return {{"tokens", ids}};
    json tokens = json::array();
    Utf8Stream utf8;
    for (int32_t id : ids) tokens.push_back({{"id", id}, {"piece", utf8.push(tok.token_to_piece(id, true)) }});
    return {{"tokens", tokens}};
}

json detokenize_json(const json& body, const Model& model) {
    check_detokenize_fields(body);
    const Tokenizer& tok = model.tokenizer();
    Utf8Stream utf8;  // invalid UTF-8 in the pieces becomes U+FFFD, so the JSON is valid
    const auto it = body.find("tokens");
    if (it == body.end()) throw ApiError::invalid("The request has no 'tokens'.");
    std::string text = utf8.push(tok.detokenize(token_ids(*it, tok, "tokens"), true));
    return {{"content", text + utf8.flush()}};
}

json models_json(const ApiContext& ctx, const std::string& model_path) {
    const Model& m = *ctx.model;
    const Hparams& hp = m.hparams();
    const json meta = {{"vocab_type", 2},           {"n_vocab", hp.n_vocab}, {"n_ctx_train", hp.n_ctx_train},
                       {"n_embd", hp.n_embd},       {"n_params", m.n_params()}, {"size", file_size(model_path)},
                       {"n_ctx", ctx.slot_n_ctx},   {"ftype", m.quant_name()}};
    const json model = {{"id", ctx.model_name}, {"aliases", {ctx.model_name}}, {"tags", json::array()},
                        {"object", "model"},     {"created", 0},             {"owned_by", "llamacpp"},
                        {"meta", meta}};
    const json details = {{"parent_model", ""}, {"format", "gguf"}, {"family", hp.architecture},
                          {"families", {hp.architecture}}, {"parameter_size", std::to_string(m.n_params())},
                          {"quantization_level", m.quant_name()}};
    const json listed = {{"name", ctx.model_name}, {"model", ctx.model_name}, {"modified_at", ""},
                         {"size", std::to_string(file_size(model_path))}, {"digest", ""}, {"type", "model"},
                         {"description", ""}, {"tags", {""}}, {"capabilities", {"completion"}},
                         {"parameters", ""}, {"details", details}};
    return {{"object", "list"}, {"data", json::array({model})}, {"models", json::array({listed})}};
}

json props_json(const ApiContext& ctx, const SlotEngine& engine, const std::string& model_path, bool metrics) {
    const Model& m = *ctx.model;
    const Tokenizer& tok = m.tokenizer();
    json params = generation_settings(ctx.defaults, ctx);
    params.erase("model");
    params.erase("n_ctx");
    params.erase("stop");
    for (const char* key : {"dry_sequence_breakers", "logit_bias", "grammar", "grammar_lazy", "grammar_triggers",
                            "preserved_tokens"}) {
        params.erase(key);
    }
    const json caps = {{"supports_object_arguments", false}, {"supports_parallel_tool_calls", false},
                       {"supports_preserve_reasoning", false}, {"supports_reasoning_effort", false},
                       {"supports_string_content", true},     {"supports_system_role", true},
                       {"supports_tool_calls", false},        {"supports_tools", false},
                       {"supports_typed_content", false}};
    return {{"default_generation_settings", {{"n_ctx", engine.slot_n_ctx()}, {"params", params}}},
            {"total_slots", engine.n_slots()},
            {"model_alias", ctx.model_name},
            {"model_path", model_path},
            {"model_ftype", m.quant_name()},
            {"modalities", {{"audio", false}, {"video", false}, {"vision", false}}},
            {"chat_template", m.file().get_string("tokenizer.chat_template", "")},
            {"chat_template_caps", caps},
            {"bos_token", token_text_or_empty(tok, tok.bos())},
            {"eos_token", token_text_or_empty(tok, tok.eos())},
            {"build_info", "natter 0.1.0"},
            {"is_sleeping", false},
            {"media_marker", ""},
            {"endpoint_slots", true},
            {"endpoint_props", true},
            {"endpoint_metrics", metrics},
            {"cors_proxy_enabled", false},
            {"ui", false},
            {"ui_settings", json::object()}};
}

json slots_json(const ApiContext& ctx, const SlotEngine& engine) {
    json out = json::array();
    for (const SlotInfo& s : engine.slots()) {
        json params = generation_settings(s.params, ctx);
        const int n_remain = s.params.n_predict < 0 ? -1 : std::max(0, s.params.n_predict - s.n_decoded);
        out.push_back({{"id", s.id},
                       {"id_task", s.busy ? s.id : -1},
                       {"n_ctx", s.n_ctx},
                       {"speculative", false},
                       {"is_processing", s.busy},
                       {"n_prompt_tokens", static_cast<int>(s.params.prompt.size())},
                       {"n_prompt_tokens_cache", s.n_cached},
                       {"n_prompt_tokens_processed", s.n_cached},
                       {"params", params},
                       {"next_token", json::array({{{"has_next_token", s.busy},
                                                    {"has_new_line", false},
                                                    {"n_remain", n_remain},
                                                    {"n_decoded", s.n_decoded}}})}});
    }
    return out;
}

std::string metrics_text(const SlotEngine& engine, uint64_t http_requests) {
    const EngineStats s = engine.stats();
    std::ostringstream out;
    metric(out, "llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.", static_cast<double>(s.prompt_tokens));
    metric(out, "llamacpp:prompt_seconds_total", "counter", "Prompt process time", s.prompt_seconds);
    metric(out, "llamacpp:prompt_tokens_cached_total", "counter", "Prompt tokens taken from a slot's cache.",
           static_cast<double>(s.prompt_tokens_cached));
    metric(out, "llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.",
           static_cast<double>(s.predicted_tokens));
    metric(out, "llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time", s.predicted_seconds);
    metric(out, "llamacpp:n_decode_total", "counter", "Total number of decode steps.", static_cast<double>(s.decode_steps));
    metric(out, "llamacpp:n_busy_slots_per_decode", "counter", "Average number of busy slots per decode step.",
           s.decode_steps ? static_cast<double>(s.busy_slots_in_steps) / static_cast<double>(s.decode_steps) : 0.0);
    metric(out, "llamacpp:n_tokens_max", "counter", "Largest observed n_tokens.", s.n_tokens_max);
    metric(out, "llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
           s.prompt_seconds > 0 ? static_cast<double>(s.prompt_tokens) / s.prompt_seconds : 0.0);
    metric(out, "llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s (aggregate).",
           s.predicted_wall_seconds > 0 ? static_cast<double>(s.predicted_tokens) / s.predicted_wall_seconds : 0.0);
    metric(out, "llamacpp:requests_processing", "gauge", "Number of requests processing.", s.processing);
    metric(out, "llamacpp:requests_deferred", "gauge", "Number of requests deferred.", s.deferred);
    metric(out, "natter:requests_total", "counter", "Generation requests submitted to the slots.", static_cast<double>(s.requests));
    metric(out, "natter:http_requests_total", "counter", "HTTP requests received.", static_cast<double>(http_requests));
    metric(out, "natter:slots_busy", "gauge", "Slots running a request.", s.processing);
    metric(out, "natter:kv_cache_tokens", "gauge", "Tokens held in the slots' KV caches.", s.kv_tokens);
    return out.str();
}

}  // namespace natter::server
