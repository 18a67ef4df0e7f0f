#pragma once
// Perplexity of a model on a text, computed the way llama.cpp's perplexity tool does it:
// the text is tokenized whole, cut into chunks of n_ctx tokens, each chunk is evaluated from
// an empty cache (its first token replaced by BOS when the model adds BOS), and only the
// second half of each chunk is scored, so every scored token has at least n_ctx/2 of context.
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace natter {
class Model;
class Trace;
}

namespace natter::tools {

struct PerplexityOptions {
    int n_ctx = 512;
    int n_batch = 512;   // tokens per forward batch (at most n_ctx)
    int n_threads = 0;   // 0: the engine's default
    int n_chunks = -1;   // -1: every whole chunk of the text
    bool flash_attn = true;   // -fa: llama.cpp's flash attention (its CPU default: auto, on), or its attention without
};

// The running state after each chunk, for llama.cpp-style "[1]12.3456,[2]..." output.
struct PerplexityChunk {
    int index = 0;       // 1-based
    int n_chunks = 0;
    double ppl = 0;      // over all chunks so far
    double seconds = 0;  // this chunk's evaluation time
};

struct PerplexityResult {
    double ppl = 0;
    double ppl_error = 0;   // standard error of the estimate (as llama.cpp reports it)
    double mean_nll = 0;    // mean negative log-likelihood per scored token (nats)
    int n_chunks = 0;
    int64_t n_scored = 0;   // tokens scored
    int64_t n_text_tokens = 0;
    double seconds = 0;
};

// Tokens of the whole text: BOS first when the model adds it, special tokens not parsed.
std::vector<int32_t> perplexity_tokens(const Model& model, std::string_view text);

// Throws natter::Error when the text has fewer than 2*n_ctx tokens (llama.cpp's rule).
// `trace` watches the forward pass (tools/imatrix.h's collector), if given.
PerplexityResult compute_perplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const std::function<void(const PerplexityChunk&)>& on_chunk,
                                    Trace* trace = nullptr);

// log p(token) under softmax(logits), in double precision.
double token_log_prob(std::span<const float> logits, int32_t token);

}  // namespace natter::tools
