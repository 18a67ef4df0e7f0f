#include "tools/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "core/error.h"
#include "inference/forward.h"
#include "inference/model.h"

namespace natter::tools {

std::vector<int32_t> perplexity_tokens(const Model& model, std::string_view text) {
    return model.tokenizer().tokenize(text, /*add_special=*/true, /*parse_special=*/false);
}

double token_log_prob(std::span<const float> logits, int32_t token) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size()) throw Error("token id out of the vocabulary");
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (const float l : logits) sum += std::exp(static_cast<double>(l) - max);
    return static_cast<double>(logits[static_cast<size_t>(token)]) - max - std::log(sum);
}

PerplexityResult compute_perplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const std::function<void(const PerplexityChunk&)>& on_chunk, Trace* trace) {
    const auto start_time = std::chrono::steady_clock::now();
    const int n_ctx = options.n_ctx;
    if (n_ctx < 4) throw Error("the context for perplexity must be at least 4 tokens, not " + std::to_string(n_ctx));
    if (tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
        throw Error("the text has " + std::to_string(tokens.size()) + " tokens; a context of " + std::to_string(n_ctx) +
                    " needs at least " + std::to_string(2 * n_ctx) + " (use a longer text or a smaller -c)");
    }
    const int max_chunks = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
    const int n_chunks = options.n_chunks > 0 ? std::min(options.n_chunks, max_chunks) : max_chunks;
    const int n_vocab = model.hparams().n_vocab;
    const int first = n_ctx / 2;  // positions before this are context only
    const bool add_bos = model.tokenizer().add_bos() && model.tokenizer().bos() >= 0;

    Forward forward(model, ForwardOptions{n_ctx, std::clamp(options.n_batch, 1, n_ctx), options.n_threads, options.flash_attn});
    if (trace) forward.set_trace(trace);
    double nll = 0, nll2 = 0;  // sums of -log p and (log p)^2 over the scored tokens
    int64_t count = 0;
    std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
    for (int i = 0; i < n_chunks; ++i) {
        const auto chunk_start = std::chrono::steady_clock::now();
        const auto begin = tokens.begin() + static_cast<ptrdiff_t>(i) * n_ctx;
        std::copy(begin, begin + n_ctx, chunk.begin());
        if (add_bos) chunk[0] = model.tokenizer().bos();
        const std::span<const float> logits = forward.eval(chunk, 0, /*all_logits=*/true);
        // The logits at position j predict token j + 1.
        for (int j = first; j < n_ctx - 1; ++j) {
            const double lp = token_log_prob(logits.subspan(static_cast<size_t>(j) * n_vocab, static_cast<size_t>(n_vocab)),
                                             chunk[static_cast<size_t>(j) + 1]);
            nll -= lp;
            nll2 += lp * lp;
            ++count;
        }
        if (on_chunk) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - chunk_start).count();
            on_chunk({i + 1, n_chunks, std::exp(nll / static_cast<double>(count)), seconds});
        }
    }
    PerplexityResult r;
    r.n_chunks = n_chunks;
    r.n_scored = count;
    r.n_text_tokens = static_cast<int64_t>(tokens.size());
    r.mean_nll = nll / static_cast<double>(count);
    r.ppl = std::exp(r.mean_nll);
    // Standard error of the mean NLL, carried to the perplexity: d(exp x) = exp(x) dx.
    const double variance = nll2 / static_cast<double>(count) - r.mean_nll * r.mean_nll;
    r.ppl_error = variance > 0 && count > 1 ? std::sqrt(variance / static_cast<double>(count - 1)) * r.ppl : 0;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    return r;
}

}  // namespace natter::tools
