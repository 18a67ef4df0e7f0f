#pragma once
// The JSON of llama-server's API and OpenAI's, without HTTP: request bodies checked and turned
// into GenerationParams, results turned into the response objects (field names as llama.cpp's
// server and OpenAI's API write them), and the errors in OpenAI's error object.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "inference/tokenizer.h"
#include "prompts/template.h"
#include "server/slot_engine.h"

namespace natter::server {

using nlohmann::json;

// A request the server refuses: HTTP status, OpenAI error type and one sentence.
class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string type, const std::string& message)
        : std::runtime_error(message), status(status), type(std::move(type)) {}
    static ApiError invalid(const std::string& message) { return ApiError(400, "invalid_request_error", message); }
    int status;
    std::string type;
};

// {"error": {"code": status, "message": ..., "type": ...}}, as llama-server and OpenAI send it.
json error_json(int status, const std::string& type, const std::string& message);

// A JSON array of token ids of the model; anything else is an ApiError naming the field.
std::vector<int32_t> token_ids(const json& array, const Tokenizer& tok, const char* name);

// /tokenize's and /detokenize's bodies hold only their own fields; anything else is an ApiError.
void check_tokenize_fields(const json& body);
void check_detokenize_fields(const json& body);

// The body as a JSON object; malformed JSON, invalid UTF-8 or another type is an ApiError.
json parse_body(const std::string& body);

// What a completion request asks for, beside the engine's part.
struct CompletionRequest {
    GenerationParams params;
    bool stream = false;
    bool include_usage = false;  // OpenAI stream_options.include_usage
    std::string prompt_text;     // the prompt as text (detokenized when given as ids)
    bool return_tokens = false;  // llama.cpp's return_tokens: the generated ids in "tokens"
};

// The server's fixed parts that requests and responses refer to.
struct ApiContext {
    const Model* model = nullptr;
    std::string model_name;      // the -m path, as llama-server names its model
    GenerationParams defaults;   // the command line's sampling flags and -n
    const ChatTemplate* chat_template = nullptr;
    int slot_n_ctx = 0;
};

// POST /completion and /v1/completions: the prompt (text, token ids, or a list with one text)
// and llama.cpp's sampling fields (OpenAI's max_tokens is n_predict). Wrong types, a prompt
// that is empty or does not fit a slot's context are ApiErrors.
CompletionRequest parse_completion(const json& body, const ApiContext& ctx);
// POST /v1/chat/completions: messages rendered with the model's chat template, then as above;
// the template's stop strings are added to the request's.
CompletionRequest parse_chat(const json& body, const ApiContext& ctx);

// The request's settings as llama-server's generation_settings object.
json generation_settings(const GenerationParams& p, const ApiContext& ctx);
json timings_json(const GenerationResult& r);

// llama.cpp's /completion response (and its last streamed event, with stop true).
json completion_json(const GenerationResult& r, const CompletionRequest& req, const ApiContext& ctx);
// One streamed /completion event for a piece.
json completion_chunk(const Piece& piece, int n_predicted, int n_prompt, const Tokenizer& tok);
// llama-server's completion_probabilities entry: id, token, bytes, logprob, top_logprobs.
json probs_json(const TokenProbs& p, const Tokenizer& tok);

// OpenAI's finish_reason: "stop" (end of text or a stop string) or "length".
std::string finish_reason(const GenerationResult& r);
json usage_json(const GenerationResult& r);
json oai_completion_json(const GenerationResult& r, const ApiContext& ctx, const std::string& id, bool chat);
// A streamed chunk: delta text (chat) or text, finish_reason null or set.
json oai_chunk(const std::string& text, const std::string* finish, const ApiContext& ctx, const std::string& id,
               bool chat, bool first);

}  // namespace natter::server
