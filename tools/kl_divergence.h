#pragma once
// How far a model's next-token distributions are from a base model's on the same text, as
// llama.cpp's perplexity tool measures it: a run with --kl-divergence-base FILE saves the base
// model's log-probabilities of every scored position; a run of another model (a quantization
// of it) with --kl-divergence reads them and reports the ratio of the perplexities, the KL
// divergence per token (mean, percentiles), the change in the probability of the right token
// (Δp) and how often both models rank the same token first.
//
// The file is llama.cpp's: "_logits_", then int32 n_ctx, n_vocab, n_chunks, the n_chunks *
// n_ctx tokens of the text, then for each chunk and each scored position (n_ctx/2 .. n_ctx-2)
// a row of uint16: two floats (the step and the lowest log-probability kept, the top logit
// minus 16) and the n_vocab log-probabilities as steps above it (the row padded to an even
// count).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tools/perplexity.h"

namespace natter::tools {

// Writes the base file through path.tmp, renamed by finish(); dropped if never finished.
class KldBaseWriter {
public:
    KldBaseWriter(std::string path, int n_ctx, int n_vocab, std::span<const int32_t> tokens);
    ~KldBaseWriter();
    KldBaseWriter(const KldBaseWriter&) = delete;
    KldBaseWriter& operator=(const KldBaseWriter&) = delete;
    // One chunk's logits, all n_ctx rows.
    void add_chunk(std::span<const float> logits);
    void finish();

private:
    struct File;
    std::unique_ptr<File> file_;
    std::string path_;
    int n_ctx_, n_vocab_;
};

// compute_perplexity that also writes the base file of the chunks it scores to `path`.
PerplexityResult perplexity_with_kld_base(const Model& model, std::span<const int32_t> tokens,
                                          const PerplexityOptions& options,
                                          const std::function<void(const PerplexityChunk&)>& on_chunk,
                                          const std::string& path);

// The tokens of a base file's chunks: n_chunks * n_ctx of them, for the perplexity header.
struct KldBaseTokens {
    int n_ctx = 0, n_vocab = 0, n_chunks = 0;
    std::vector<int32_t> tokens;
};
KldBaseTokens read_kld_base_tokens(const std::string& path);

// A value and its standard error.
struct Estimate {
    double value = 0, error = 0;
};

struct KldPercentiles {
    double max = 0, p99_9 = 0, p99 = 0, p95 = 0, p90 = 0, p75 = 0, median = 0, p25 = 0, p10 = 0, p5 = 0, p1 = 0,
           p0_1 = 0, min = 0;
};

// After each chunk, llama.cpp's running line: PPL(Q), ln(PPL(Q)/PPL(base)), KLD, RMS Δp, same top p.
struct KldChunk {
    int index = 0, n_chunks = 0;
    Estimate ppl, ln_ppl_ratio, kld, rms_dp, same_top;
    double seconds = 0;
};

struct KldResult {
    int64_t count = 0;  // positions compared
    Estimate ppl, ppl_base, ln_ppl_ratio, ppl_ratio, ppl_diff;
    double ppl_correlation = 0;  // of ln PPL(Q) and ln PPL(base)
    Estimate kld;
    KldPercentiles kld_at;        // p75 and p25 unused, as in llama.cpp's report
    Estimate dp, rms_dp, same_top;  // Δp in probability (not per cent)
    KldPercentiles dp_at;
};

// Evaluates the base file's chunks with `model` (options.n_ctx and n_chunks come from the
// file) and compares. Throws natter::Error for a file that is not such a base file, that is cut
// off, or whose vocabulary is not the model's.
KldResult compute_kl_divergence(const Model& model, const std::string& base_path, const PerplexityOptions& options,
                                const std::function<void(const KldChunk&)>& on_chunk);

}  // namespace natter::tools
