#pragma once
// The answers of the endpoints that do not generate: /tokenize, /detokenize, /v1/models,
// /props, /slots and /metrics (Prometheus text), with llama-server's field and metric names.
#include <cstdint>
#include <string>

#include "server/api.h"

namespace natter::server {

// {"content": text, "add_special": false, "parse_special": true, "with_pieces": false} ->
// {"tokens": [ids]} or, with pieces, {"tokens": [{"id", "piece"}]}.
json tokenize_json(const json& body, const Model& model);
// {"tokens": [ids]} -> {"content": text}.
json detokenize_json(const json& body, const Model& model);
json models_json(const ApiContext& ctx, const std::string& model_path);
json props_json(const ApiContext& ctx, const SlotEngine& engine, const std::string& model_path, bool metrics);
json slots_json(const ApiContext& ctx, const SlotEngine& engine);
std::string metrics_text(const SlotEngine& engine, uint64_t http_requests);

}  // namespace natter::server
