// llama.cpp's perplexity --kl-divergence-base and --kl-divergence (tools/perplexity/
// perplexity.cpp: log_softmax with the uint16 rows, kl_divergence), restated: the rows are
// quantized and read back with the same float operations, so a file either tool writes is
// the other's, and the statistics are the same sums (in double where llama.cpp keeps double).
#include "tools/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "inference/model.h"
#include "inference/trace.h"

namespace natter::tools {

namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

// uint16 per row: two floats, then n_vocab values padded to an even count.
size_t row_values(int n_vocab) { return 2 * ((static_cast<size_t>(n_vocab) + 1) / 2) + 4; }
int scored_rows(int n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// Round to nearest even for 0 <= x < 2^22 (llama.cpp's nearest_int: the magic addition).
int nearest(float x) { return static_cast<int>((x + 12582912.0f) - 12582912.0f); }

struct Softmax {
    float max = 0, log_sum_exp = 0;
    int argmax = 0;
};

Softmax softmax_of(std::span<const float> logits) {
    Softmax s;
    s.max = logits[0];
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > s.max) {
            s.max = logits[i];
            s.argmax = static_cast<int>(i);
        }
    }
    double sum_exp = 0.0;
    for (const float l : logits) sum_exp += std::exp(l - s.max);
    s.log_sum_exp = static_cast<float>(std::log(sum_exp));
    return s;
}

// One base row: log-probabilities from the top one down to 16 below it, in 65535 steps.
void quantize_row(std::span<const float> logits, uint16_t* row) {
    const Softmax s = softmax_of(logits);
    float min_logit = *std::min_element(logits.begin(), logits.end());
    min_logit = std::max(min_logit, s.max - 16);
    const float min_log_prob = min_logit - s.max - s.log_sum_exp;
    const float scale = (s.max - min_logit) / 65535.0f;
    std::memcpy(row, &scale, sizeof(float));
    std::memcpy(row + 2, &min_log_prob, sizeof(float));
    uint16_t* q = row + 4;
    if (scale == 0.0f) {
        std::fill(q, q + logits.size(), uint16_t{0});
        return;
    }
    const float inv_scale = 1 / scale;
    for (size_t i = 0; i < logits.size(); ++i) {
        q[i] = logits[i] > min_logit ? static_cast<uint16_t>(nearest(inv_scale * (logits[i] - min_logit))) : 0;
    }
}

// llama.cpp's kl_divergence_result: running sums over the compared positions.
struct Sums {
    double nll = 0, nll2 = 0, nll_base = 0, nll_base2 = 0, nll_nll_base = 0;
    double kld = 0, kld2 = 0, p_diff = 0, p_diff2 = 0, p_diff4 = 0;
    int64_t same_top = 0, count = 0;
    std::vector<float> kld_values, p_diff_values;

    void add(std::span<const float> logits, const uint16_t* base, int32_t token) {
        const Softmax s = softmax_of(logits);
        float scale = 0, min_log_prob = 0;
        std::memcpy(&scale, base, sizeof(float));
        std::memcpy(&min_log_prob, base + 2, sizeof(float));
        const uint16_t* q = base + 4;
        const auto t = static_cast<size_t>(token);
        const float nll_q = s.max + s.log_sum_exp - logits[t];
        nll += nll_q;
        nll2 += nll_q * nll_q;
        const float nll_b = -(scale * q[t] + min_log_prob);
        nll_base += nll_b;
        nll_base2 += nll_b * nll_b;
        nll_nll_base += nll_q * nll_b;
        const float log_norm = s.max + s.log_sum_exp;
        double sum = 0;
        int argmax_base = -1;
        float max_base = 0;
        for (size_t i = 0; i < logits.size(); ++i) {
            const float lp_base = scale * q[i] + min_log_prob;
            if (i == 0 || lp_base > max_base) {
                max_base = lp_base;
                argmax_base = static_cast<int>(i);
            }
            if (lp_base > -16.0f) sum += std::exp(lp_base) * (lp_base - logits[i] + log_norm);
        }
        kld += sum;
        kld2 += sum * sum;
        ++count;
        same_top += s.argmax == argmax_base;
        const float dp = std::exp(-nll_q) - std::exp(-nll_b);
        p_diff += dp;
        const double dp2 = dp * dp;
        p_diff2 += dp2;
        p_diff4 += dp2 * dp2;
        kld_values.push_back(static_cast<float>(sum));
        p_diff_values.push_back(dp);
    }
};

Estimate mean_and_error(double sum, double sum2, int64_t count) {
    if (count < 1) return {};
    const double f = sum / static_cast<double>(count);
    const double df = sum2 / static_cast<double>(count) - f * f;
    return {f, df > 0 && count > 10 ? std::sqrt(df / static_cast<double>(count - 1)) : 0.0};
}

double covariance(double a, double b, double ab, int64_t count) {
    if (count < 10) return 0.0;
    const double n = static_cast<double>(count);
    return (ab / n - (a / n) * (b / n)) / (n - 1);
}

Estimate ln_ratio(const Sums& s) {
    const Estimate q = mean_and_error(s.nll, s.nll2, s.count);
    const Estimate b = mean_and_error(s.nll_base, s.nll_base2, s.count);
    const double cov = covariance(s.nll, s.nll_base, s.nll_nll_base, s.count);
    return {q.value - b.value, std::sqrt(q.error * q.error + b.error * b.error - 2.0 * cov)};
}

Estimate rms_dp(const Sums& s) {
    const Estimate mse = mean_and_error(s.p_diff2, s.p_diff4, s.count);
    const double rms = std::sqrt(mse.value);
    return {rms, 0.5 / rms * mse.error};
}

Estimate same_top(const Sums& s) {
    const double p = static_cast<double>(s.same_top) / static_cast<double>(s.count);
    return {p, std::sqrt(p * (1 - p) / static_cast<double>(s.count - 1))};
}

// llama.cpp's percentile: linear between the two nearest of the sorted values, in float.
float percentile(const std::vector<float>& v, float fraction) {
    if (fraction <= 0) return v.front();
    if (fraction >= 1) return v.back();
    float p = fraction * static_cast<float>(v.size() - 1);
    const auto ip = static_cast<size_t>(p);
    p -= static_cast<float>(ip);
    return (1 - p) * v[ip] + p * v[std::min(ip + 1, v.size() - 1)];
}

KldPercentiles percentiles(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    KldPercentiles r;
    r.max = v.back();
    r.min = v.front();
    r.median = n % 2 == 0 ? 0.5f * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
    r.p99_9 = percentile(v, 0.999f);
    r.p99 = percentile(v, 0.990f);
    r.p95 = percentile(v, 0.950f);
    r.p90 = percentile(v, 0.900f);
    r.p75 = percentile(v, 0.750f);
    r.p25 = percentile(v, 0.250f);
    r.p10 = percentile(v, 0.100f);
    r.p5 = percentile(v, 0.050f);
    r.p1 = percentile(v, 0.010f);
    r.p0_1 = percentile(v, 0.001f);
    return r;
}

// Each chunk's logits, gathered from the forward pass's one hook: perplexity evaluates a chunk
// per eval call, all positions' logits wanted, and the output of each of its batches is traced
// as result_output, rows in order.
class ChunkLogitsTrace final : public Trace {
public:
    using OnChunk = std::function<void(int chunk, std::span<const float> logits)>;
    ChunkLogitsTrace(int n_ctx, int n_vocab, OnChunk on_chunk)
        : size_(static_cast<size_t>(n_ctx) * static_cast<size_t>(n_vocab)), on_chunk_(std::move(on_chunk)) {}

    void begin_eval() override { rows_.clear(); }
    void tensor(const TraceName& name, const float* data, std::initializer_list<int64_t> shape) override {
        if (std::strcmp(name.base, "result_output") != 0) return;
        size_t n = 1;
        for (const int64_t d : shape) n *= static_cast<size_t>(d);
        rows_.insert(rows_.end(), data, data + n);
        if (rows_.size() == size_) on_chunk_(chunk_++, rows_);
    }

private:
    size_t size_;
    OnChunk on_chunk_;
    std::vector<float> rows_;
    int chunk_ = 0;
};

[[noreturn]] void not_a_base_file(const std::string& path, const std::string& why) {
    throw Error(path + " is not a base file of --kl-divergence-base (" + why + ")");
}

}  // namespace

struct KldBaseWriter::File {
    std::ofstream out;
    std::vector<uint16_t> rows;
    bool finished = false;
};

KldBaseWriter::KldBaseWriter(std::string path, int n_ctx, int n_vocab, std::span<const int32_t> tokens)
    : file_(std::make_unique<File>()), path_(std::move(path)), n_ctx_(n_ctx), n_vocab_(n_vocab) {
    file_->out.open(path_ + ".tmp", std::ios::binary | std::ios::trunc);
    if (!file_->out) throw Error("cannot create " + path_ + ".tmp");
    const auto n_chunks = static_cast<int32_t>(tokens.size() / static_cast<size_t>(n_ctx));
    file_->out.write(kMagic, sizeof kMagic);
    for (const int32_t v : {static_cast<int32_t>(n_ctx), static_cast<int32_t>(n_vocab), n_chunks}) {
        file_->out.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
    file_->out.write(reinterpret_cast<const char*>(tokens.data()),
                     static_cast<std::streamsize>(static_cast<size_t>(n_chunks) * n_ctx * sizeof(int32_t)));
    file_->rows.assign(row_values(n_vocab) * static_cast<size_t>(scored_rows(n_ctx)), 0);
}

KldBaseWriter::~KldBaseWriter() {
    if (!file_->finished) {
        file_->out.close();
        std::error_code ec;
        std::filesystem::remove(path_ + ".tmp", ec);
    }
}

void KldBaseWriter::add_chunk(std::span<const float> logits) {
    const size_t nv = row_values(n_vocab_), vocab = static_cast<size_t>(n_vocab_);
    for (int j = n_ctx_ / 2, r = 0; j < n_ctx_ - 1; ++j, ++r) {
        quantize_row(logits.subspan(static_cast<size_t>(j) * vocab, vocab), file_->rows.data() + static_cast<size_t>(r) * nv);
    }
    file_->out.write(reinterpret_cast<const char*>(file_->rows.data()),
                     static_cast<std::streamsize>(file_->rows.size() * sizeof(uint16_t)));
}

void KldBaseWriter::finish() {
    file_->out.close();
    if (!file_->out) throw Error("cannot write " + path_);
    std::error_code ec;
    std::filesystem::rename(path_ + ".tmp", path_, ec);
    if (ec) throw Error("cannot write " + path_ + ": " + ec.message());
    file_->finished = true;
}

PerplexityResult perplexity_with_kld_base(const Model& model, std::span<const int32_t> tokens,
                                          const PerplexityOptions& options,
                                          const std::function<void(const PerplexityChunk&)>& on_chunk,
                                          const std::string& path) {
    const size_t n_ctx = static_cast<size_t>(std::max(options.n_ctx, 1));
    size_t n_chunks = tokens.size() / n_ctx;
    if (options.n_chunks > 0) n_chunks = std::min(n_chunks, static_cast<size_t>(options.n_chunks));
    KldBaseWriter base(path, options.n_ctx, model.hparams().n_vocab, tokens.first(n_chunks * n_ctx));
    ChunkLogitsTrace trace(options.n_ctx, model.hparams().n_vocab,
                           [&](int, std::span<const float> logits) { base.add_chunk(logits); });
    const PerplexityResult r = compute_perplexity(model, tokens, options, on_chunk, &trace);
    base.finish();
    return r;
}

KldBaseTokens read_kld_base_tokens(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open " + path);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    if (!in || std::memcmp(magic, kMagic, sizeof magic) != 0) not_a_base_file(path, "no _logits_ at its start");
    int32_t header[3] = {};
    in.read(reinterpret_cast<char*>(header), sizeof header);
    KldBaseTokens b{header[0], header[1], header[2], {}};
    if (!in || b.n_ctx < 4 || b.n_vocab < 1 || b.n_chunks < 1) not_a_base_file(path, "its header is cut off or invalid");
    const uint64_t rows = static_cast<uint64_t>(b.n_chunks) * static_cast<uint64_t>(scored_rows(b.n_ctx));
    const uint64_t expected = 20 + static_cast<uint64_t>(b.n_chunks) * static_cast<uint64_t>(b.n_ctx) * 4 +
                              rows * row_values(b.n_vocab) * 2;
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec || size < expected) {
        not_a_base_file(path, "it has " + std::to_string(size) + " bytes where its header promises " + std::to_string(expected));
    }
    b.tokens.resize(static_cast<size_t>(b.n_chunks) * static_cast<size_t>(b.n_ctx));
    in.read(reinterpret_cast<char*>(b.tokens.data()), static_cast<std::streamsize>(b.tokens.size() * sizeof(int32_t)));
    return b;
}

KldResult compute_kl_divergence(const Model& model, const std::string& base_path, const PerplexityOptions& options,
                                const std::function<void(const KldChunk&)>& on_chunk) {
    const KldBaseTokens base = read_kld_base_tokens(base_path);
    const int n_vocab = model.hparams().n_vocab;
    if (base.n_vocab != n_vocab) {
        throw Error(base_path + " was made with a vocabulary of " + std::to_string(base.n_vocab) + " tokens, this model has " +
                    std::to_string(n_vocab));
    }
    for (const int32_t t : base.tokens) {
        if (t < 0 || t >= n_vocab) not_a_base_file(base_path, "token " + std::to_string(t) + " is outside the vocabulary");
    }
    if (base.n_chunks < 2) throw Error(base_path + " holds one chunk; the comparison needs two (make it without --chunks 1)");
    std::ifstream in(base_path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(20 + base.tokens.size() * sizeof(int32_t)));
    const size_t nv = row_values(n_vocab), vocab = static_cast<size_t>(n_vocab);
    std::vector<uint16_t> rows(nv * static_cast<size_t>(scored_rows(base.n_ctx)));

    PerplexityOptions o = options;
    o.n_ctx = base.n_ctx;
    o.n_chunks = base.n_chunks;
    Sums sums;
    const auto compare = [&](int chunk, std::span<const float> logits) {
        in.read(reinterpret_cast<char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(uint16_t)));
        if (!in) not_a_base_file(base_path, "chunk " + std::to_string(chunk + 1) + " is cut off");
        const int32_t* tokens = base.tokens.data() + static_cast<size_t>(chunk) * static_cast<size_t>(base.n_ctx);
        for (int j = base.n_ctx / 2, r = 0; j < base.n_ctx - 1; ++j, ++r) {
            sums.add(logits.subspan(static_cast<size_t>(j) * vocab, vocab), rows.data() + static_cast<size_t>(r) * nv,
                     tokens[j + 1]);
        }
    };
    const auto report = [&](const PerplexityChunk& p) {
        if (!on_chunk) return;
        const Estimate ln_ppl = mean_and_error(sums.nll, sums.nll2, sums.count);
        on_chunk(KldChunk{p.index, p.n_chunks, {std::exp(ln_ppl.value), std::exp(ln_ppl.value) * ln_ppl.error},
                          ln_ratio(sums), mean_and_error(sums.kld, sums.kld2, sums.count), rms_dp(sums), same_top(sums),
                          p.seconds});
    };
    ChunkLogitsTrace trace(base.n_ctx, n_vocab, compare);
    compute_perplexity(model, base.tokens, o, report, &trace);

    KldResult r;
    r.count = sums.count;
    const Estimate ln_q = mean_and_error(sums.nll, sums.nll2, sums.count);
    const Estimate ln_b = mean_and_error(sums.nll_base, sums.nll_base2, sums.count);
    r.ppl = {std::exp(ln_q.value), std::exp(ln_q.value) * ln_q.error};
    r.ppl_base = {std::exp(ln_b.value), std::exp(ln_b.value) * ln_b.error};
    const double cov = covariance(sums.nll, sums.nll_base, sums.nll_nll_base, sums.count);
    r.ppl_correlation = cov / (ln_q.error * ln_b.error);
    r.ln_ppl_ratio = ln_ratio(sums);
    r.ppl_ratio = {std::exp(r.ln_ppl_ratio.value), std::exp(r.ln_ppl_ratio.value) * r.ln_ppl_ratio.error};
    const double ppl_cov = r.ppl.value * r.ppl_base.value * cov;
    r.ppl_diff = {r.ppl.value - r.ppl_base.value,
                  std::sqrt(r.ppl.error * r.ppl.error + r.ppl_base.error * r.ppl_base.error - 2.0 * ppl_cov)};
    r.kld = mean_and_error(sums.kld, sums.kld2, sums.count);
    r.kld_at = percentiles(sums.kld_values);
    r.dp = mean_and_error(sums.p_diff, sums.p_diff2, sums.count);
    r.dp_at = percentiles(sums.p_diff_values);
    r.rms_dp = rms_dp(sums);
    r.same_top = same_top(sums);
    return r;
}

}  // namespace natter::tools
