#include "inference/forward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "core/error.h"
#include "inference/arch.h"
#include "inference/tensor_dump.h"
#include "quant/kernels.h"
#include "quant/quant.h"

namespace natter {

namespace {

// Decoding is bound by memory bandwidth; one thread per physical core is the sweet spot
// (SMT siblings share the core's load ports and add nothing but contention).
int default_threads() { return physical_cores(); }

void add_in_place(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

KvCache::KvCache(int n_ctx_, int n_layer_, int kv_dim_, bool v_trans_)
    : n_ctx(n_ctx_), capacity(round_up(std::max(n_ctx_, 1), kKvPad)), n_layer(n_layer_), kv_dim(kv_dim_), v_trans(v_trans_) {
    const size_t n = static_cast<size_t>(capacity) * n_layer * kv_dim;
    k.assign(n, 0);
    v.assign(n, 0);
}

int KvCache::padded_length(int n_used) const {
    return std::min(capacity, std::max(kKvPad, round_up(n_used, kKvPad)));
}

Forward::Forward(const Model& model, const ForwardOptions& options)
    : model_(model),
      trace_(tensor_dump::from_environment()),
      cache_(options.n_ctx, model.hparams().n_layer, model.hparams().kv_dim(), !options.flash_attn),
      n_batch_(std::max(1, options.n_batch)),
      n_threads_(options.n_threads > 0 ? options.n_threads : default_threads()),
      flash_attn_(options.flash_attn),
      pool_(n_threads_) {
    if (options.n_ctx <= 0) throw Error("the context size must be positive");
    parked_.push_back(Sequence{KvCache(1, 0, 0), 0});
}

void Forward::set_sequences(int n) {
    if (n < 1) throw Error("the number of sequences must be positive");
    const Hparams& hp = model_.hparams();
    use_sequence(0);
    cache_ = KvCache(cache_.n_ctx, hp.n_layer, hp.kv_dim(), !flash_attn_);
    evaluated_ = 0;
    parked_.clear();
    parked_.push_back(Sequence{KvCache(1, 0, 0), 0});
    for (int s = 1; s < n; ++s) parked_.push_back(Sequence{KvCache(cache_.n_ctx, hp.n_layer, hp.kv_dim(), !flash_attn_), 0});
}

void Forward::use_sequence(int seq) {
    if (seq < 0 || seq >= n_sequences()) throw Error("sequence " + std::to_string(seq) + " does not exist");
    if (seq == active_) return;
    std::swap(cache_, parked_[static_cast<size_t>(active_)].cache);
    parked_[static_cast<size_t>(active_)].evaluated = evaluated_;
    std::swap(cache_, parked_[static_cast<size_t>(seq)].cache);
    evaluated_ = parked_[static_cast<size_t>(seq)].evaluated;
    active_ = seq;
}

void Forward::resize_scratch(int n) {
    const Hparams& hp = model_.hparams();
    const size_t nt = static_cast<size_t>(n);
    x_.resize(nt * hp.n_embd);
    xn_.resize(nt * hp.n_embd);
    q_.resize(nt * hp.q_dim());
    q16_.resize(nt * hp.q_dim());
    k_.resize(nt * hp.kv_dim());
    v_.resize(nt * hp.kv_dim());
    attn_.resize(nt * hp.q_dim());
    gate_.resize(nt * hp.n_ff);
    up_.resize(nt * hp.n_ff);
    const size_t per_thread = static_cast<size_t>(n_threads_) * cache_.capacity;
    att_scores_.resize(per_thread);
    att_probs_.resize(per_thread);
    att_probs32_.resize(per_thread);
    // Per thread one head's query; attention_decode: every head's.
    q32_.resize(std::max(static_cast<size_t>(n_threads_) * hp.head_dim, static_cast<size_t>(hp.q_dim())));
    rope_cos_.resize(static_cast<size_t>(hp.rope.n_rot / 2));
    rope_sin_.resize(static_cast<size_t>(hp.rope.n_rot / 2));
}

std::span<const float> Forward::eval(std::span<const int32_t> tokens, int n_past, bool all_logits,
                                     const std::atomic<bool>* stop) {
    const int n_vocab = model_.hparams().n_vocab;
    if (tokens.empty()) throw Error("nothing to evaluate: the token list is empty");
    if (n_past < 0 || n_past > evaluated_) {
        throw Error("evaluation position " + std::to_string(n_past) + " is past the " +
                    std::to_string(evaluated_) + " positions in the cache");
    }
    if (static_cast<int64_t>(n_past) + static_cast<int64_t>(tokens.size()) > cache_.n_ctx) {
        throw Error(std::to_string(n_past + tokens.size()) + " tokens do not fit in the context of " +
                    std::to_string(cache_.n_ctx) + " tokens");
    }
    for (int32_t id : tokens) {
        if (id < 0 || id >= n_vocab) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    }
    if (trace_) trace_->begin_eval();
    evaluated_ = n_past;
    logits_.resize(static_cast<size_t>(all_logits ? tokens.size() : 1) * n_vocab);
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
        const size_t n = std::min(tokens.size() - start, static_cast<size_t>(n_batch_));
        const bool last_batch = start + n == tokens.size();
        float* out = all_logits ? logits_.data() + start * n_vocab : (last_batch ? logits_.data() : nullptr);
        if (!eval_batch(tokens.subspan(start, n), n_past + static_cast<int>(start), all_logits, stop, out)) {
            return {};
        }
        evaluated_ = n_past + static_cast<int>(start + n);
    }
    return logits_;
}

bool Forward::eval_batch(std::span<const int32_t> tokens, int n_past, bool all_logits,
                         const std::atomic<bool>* stop, float* logits_out) {
    const Hparams& hp = model_.hparams();
    const int n = static_cast<int>(tokens.size());
    const size_t d = static_cast<size_t>(hp.n_embd);
    resize_scratch(n);
    // As in llama.cpp, only the rows whose logits are wanted go through the last layer's
    // feed-forward block and the output projection (none for a batch without logits).
    const int n_out = logits_out ? (all_logits ? n : 1) : 0;

    for (int t = 0; t < n; ++t) model_.embed(tokens[t], x_.data() + t * d);

    Batch batch(*this, n, n_past, n_out);
    return run_layers(batch, n_out, stop, logits_out);
}

std::span<const float> Forward::decode(std::span<const int32_t> tokens, std::span<const int> seqs,
                                       std::span<const int> positions) {
    const Hparams& hp = model_.hparams();
    const int n = static_cast<int>(tokens.size());
    if (n == 0) throw Error("nothing to decode: the token list is empty");
    if (seqs.size() != tokens.size() || positions.size() != tokens.size()) {
        throw Error("decode needs one sequence and one position for each token");
    }
    std::vector<bool> seen(static_cast<size_t>(n_sequences()), false);
    for (int r = 0; r < n; ++r) {
        use_sequence(seqs[r]);  // checks the sequence
        if (tokens[r] < 0 || tokens[r] >= hp.n_vocab) {
            throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary");
        }
        const bool continues = r > 0 && seqs[r] == seqs[r - 1];
        if (continues && positions[r] != positions[r - 1] + 1) {
            throw Error("decode takes the rows of one sequence at consecutive positions");
        }
        if (!continues && seen[static_cast<size_t>(seqs[r])]) throw Error("decode takes the rows of one sequence together");
        seen[static_cast<size_t>(seqs[r])] = true;
        if (positions[r] < 0 || (!continues && positions[r] > evaluated_) || positions[r] >= cache_.n_ctx) {
            throw Error("position " + std::to_string(positions[r]) + " of sequence " + std::to_string(seqs[r]) +
                        " is outside its " + std::to_string(evaluated_) + " evaluated positions or the context");
        }
    }
    if (trace_) trace_->begin_eval();
    resize_scratch(n);
    const size_t d = static_cast<size_t>(hp.n_embd);
    for (int t = 0; t < n; ++t) model_.embed(tokens[t], x_.data() + t * d);
    logits_.resize(static_cast<size_t>(n) * hp.n_vocab);
    Batch batch(*this, n, positions.data(), seqs.data());
    run_layers(batch, n, nullptr, logits_.data());
    for (int r = 0; r < n; ++r) {
        use_sequence(seqs[r]);
        evaluated_ = positions[r] + 1;
    }
    return logits_;
}

bool Forward::run_layers(Batch& batch, int n_out, const std::atomic<bool>* stop, float* logits_out) {
    const Hparams& hp = model_.hparams();
    const Architecture& arch = model_.architecture();
    for (int l = 0; l < hp.n_layer; ++l) {
        if (stop && stop->load(std::memory_order_relaxed)) return false;
        arch.block(batch, model_.layers()[static_cast<size_t>(l)], l);
    }
    if (!logits_out) return true;

    batch.rms_norm(batch.x, model_.output_norm(), n_out, batch.xn);
    batch.trace({"result_norm"}, batch.xn, {n_out, hp.n_embd});
    batch.matmul(model_.output(), batch.xn, n_out, logits_out);
    add_bias(logits_out, model_.output_bias(), n_out);  // qwen2's optional output.bias
    if (const float cap = hp.final_logit_softcap; cap != 0.0f) {
        // ggml_scale, ggml_tanh, ggml_scale, as llama.cpp's graph does it.
        float* z = logits_out;
        for (size_t i = 0; i < static_cast<size_t>(n_out) * hp.n_vocab; ++i) z[i] = std::tanh(z[i] * (1.0f / cap)) * cap;
    }
    batch.trace({"result_output"}, logits_out, {n_out, hp.n_vocab});
    return true;
}

// The operations an architecture's block is written in (arch.h), on this Forward's scratch
// rows, threads and cache.
Batch::Batch(Forward& f, int n_tokens_, int n_past_, int n_out)
    : hp(f.model_.hparams()), n_tokens(n_tokens_), n_past(n_past_), x(f.x_.data()), xn(f.xn_.data()),
      q(f.q_.data()), k(f.k_.data()), v(f.v_.data()), attn(f.attn_.data()), gate(f.gate_.data()),
      up(f.up_.data()), forward_(f), trace_(f.trace_), n_out_(n_out) {}

Batch::Batch(Forward& f, int n_tokens_, const int* positions, const int* seqs) : Batch(f, n_tokens_, 0, n_tokens_) {
    positions_ = positions;
    seqs_ = seqs;
}

void Batch::rms_norm(const float* in, const std::vector<float>& weight, int rows, float* out) {
    const size_t width = weight.size();
    for (int t = 0; t < rows; ++t) {
        natter::rms_norm(in + t * width, weight.data(), static_cast<int64_t>(width), hp.rms_eps, out + t * width);
    }
}

void Batch::matmul(const WeightMatrix& w, const float* in, int rows, float* out) {
    if (trace_) trace_->matmul_input(w.data, in, rows, w.cols);
    natter::matmul(w, in, rows, out, &forward_.pool_);
}

void Batch::add(float* to, const float* from, int rows) {
    add_in_place(to, from, static_cast<size_t>(rows) * hp.n_embd);
}

void Batch::swiglu(const float* gate_in, const float* up_in, int rows, float* out) {
    const size_t ff = static_cast<size_t>(hp.n_ff);
    for (int t = 0; t < rows; ++t) natter::swiglu(gate_in + t * ff, up_in + t * ff, hp.n_ff, out + t * ff);
}

void Batch::rope(float* q_rows, float* k_rows) { rope(q_rows, k_rows, hp.rope); }

void Batch::rope(float* q_rows, float* k_rows, const RopeConfig& cfg) {
    float* cos_v = forward_.rope_cos_.data();
    float* sin_v = forward_.rope_sin_.data();
    for (int t = 0; t < n_tokens; ++t) {
        rope_cos_sin(cfg, position(t), cos_v, sin_v, forward_.n_ctx() > cfg.n_ctx_orig);
        rope_apply(cfg, q_rows + static_cast<size_t>(t) * hp.q_dim(), hp.n_head, hp.head_dim, cos_v, sin_v);
        rope_apply(cfg, k_rows + static_cast<size_t>(t) * hp.kv_dim(), hp.n_head_kv, hp.head_dim, cos_v, sin_v);
    }
}

void Batch::geglu(const float* gate_in, const float* up_in, int rows, float* out) {
    const size_t ff = static_cast<size_t>(hp.n_ff);
    for (int t = 0; t < rows; ++t) natter::geglu(gate_in + t * ff, up_in + t * ff, hp.n_ff, out + t * ff);
}

void Batch::scale(float* data, int rows, int width, float s) {
    natter::scale(data, static_cast<int64_t>(rows) * width, s);
}

void Batch::attention(int layer) {
    if (seqs_) {
        forward_.attention_rows(layer, n_tokens, seqs_, positions_);
        return;
    }
    forward_.store_kv(layer, n_tokens, n_past);
    forward_.attention(layer, n_tokens, n_past);
}

int Batch::output_rows(int layer) {
    if (layer != hp.n_layer - 1 || n_out_ >= n_tokens) return n_tokens;
    const size_t d = static_cast<size_t>(hp.n_embd);
    if (n_out_ == 1) std::copy_n(x + (n_tokens - 1) * d, d, x);
    return n_out_;
}

void Forward::store_kv(int layer, int n_tokens, int n_past) {
    for (int t = 0; t < n_tokens; ++t) store_kv_row(layer, t, n_past + t);
}

void Forward::store_kv_row(int layer, int t, int pos) {
    const int kv_dim = model_.hparams().kv_dim();
    kernels().fp32_to_fp16_row(&k_[static_cast<size_t>(t) * kv_dim], cache_.k_at(layer, pos), kv_dim);
    const float* v = &v_[static_cast<size_t>(t) * kv_dim];
    if (!cache_.v_trans) {
        kernels().fp32_to_fp16_row(v, cache_.v_at(layer, pos), kv_dim);
        return;
    }
    for (int i = 0; i < kv_dim; ++i) cache_.v_row(layer, i)[pos] = fp32_to_fp16(v[i]);
}

namespace {
// A lone query row over at least this many cache positions takes attention_decode (three
// passes over the threads, each K and V row read once per KV head), shorter ones
// attention_head per head in one pass (fewer dispatches). Both give the same bits.
constexpr int kDecodeByKvHead = 1024;
}  // namespace

// Each sequence's rows on its own cache, made the current one: a lone row takes
// attention_head's single-query path, a run of rows (a prompt's batch) its batch path, as
// eval() of those rows would; row t is at position n_past + t = positions[t].
void Forward::attention_rows(int layer, int n_rows, const int* seqs, const int* positions) {
    const Hparams& hp = model_.hparams();
    for (int first = 0; first < n_rows;) {
        int end = first + 1;
        while (end < n_rows && seqs[end] == seqs[first]) ++end;
        const int rows = end - first;
        use_sequence(seqs[first]);
        for (int t = first; t < end; ++t) {
            store_kv_row(layer, t, positions[t]);
            const size_t offset = static_cast<size_t>(t) * hp.q_dim();
            kernels().fp32_to_fp16_row(&q_[offset], &q16_[offset], hp.q_dim());
        }
        const int n_kv = cache_.padded_length(positions[end - 1] + 1);
        const int n_past = positions[first] - first;
        if (flash_attn_) {
            flash_attention(layer, first, end, n_past);
            first = end;
            continue;
        }
        if (rows == 1 && n_kv >= kDecodeByKvHead) {
            attention_decode(layer, first, positions[first], n_kv);
            first = end;
            continue;
        }
        if (rows > 1) widen_kv(layer, n_kv);
        pool_.parallel_for(static_cast<int64_t>(rows) * hp.n_head, 1, [&](int64_t begin, int64_t stop, int thread) {
            for (int64_t i = begin; i < stop; ++i) {
                attention_head(layer, first + static_cast<int>(i / hp.n_head), static_cast<int>(i % hp.n_head), rows, n_past,
                               n_kv, thread);
            }
        });
        first = end;
    }
    trace(trace_, {"kqv_out", layer}, attn_.data(), {n_rows, hp.q_dim()});
}

void Forward::attention(int layer, int n_tokens, int n_past) {
    const Hparams& hp = model_.hparams();
    const int n_kv = cache_.padded_length(n_past + n_tokens);
    // Q meets the F16 cache in F16, as llama.cpp converts it for the K·Q product.
    for (int t = 0; t < n_tokens; ++t) {
        const size_t offset = static_cast<size_t>(t) * hp.q_dim();
        kernels().fp32_to_fp16_row(&q_[offset], &q16_[offset], hp.q_dim());
    }
    if (flash_attn_) {
        flash_attention(layer, 0, n_tokens, n_past);
        trace(trace_, {"kqv_out", layer}, attn_.data(), {n_tokens, hp.q_dim()});
        return;
    }
    if (n_tokens == 1 && n_kv >= kDecodeByKvHead) {
        attention_decode(layer, 0, n_past, n_kv);
        trace(trace_, {"kqv_out", layer}, attn_.data(), {n_tokens, hp.q_dim()});
        return;
    }
    if (n_tokens > 1) widen_kv(layer, n_kv);
    pool_.parallel_for(static_cast<int64_t>(n_tokens) * hp.n_head, 1, [&](int64_t begin, int64_t end, int thread) {
        for (int64_t i = begin; i < end; ++i) {
            attention_head(layer, static_cast<int>(i / hp.n_head), static_cast<int>(i % hp.n_head), n_tokens, n_past,
                           n_kv, thread);
        }
    });
    trace(trace_, {"kqv_out", layer}, attn_.data(), {n_tokens, hp.q_dim()});
}

// F32 copies of positions [0, n_kv) of this layer's K and V cache: a batch reads every row
// once per query row and head, so converting the halves once saves (rows x heads per KV head)
// conversions per element; the products and sums are the same.
void Forward::widen_kv(int layer, int n_kv) {
    const int kv_dim = model_.hparams().kv_dim();
    const size_t n = static_cast<size_t>(n_kv) * kv_dim;
    if (k32_.size() < n) {
        k32_.resize(n);
        v32_.resize(n);
    }
    const Kernels& k = kernels();
    pool_.parallel_for(kv_dim, 8, [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) k.fp16_to_fp32_row(cache_.v_row(layer, static_cast<int>(i)), &v32_[i * n_kv], n_kv);
    });
    k.fp16_to_fp32_row(cache_.k_at(layer, 0), k32_.data(), static_cast<int64_t>(n));
}

// Scores of positions [first, pos] in w (the rest masked) to llama.cpp's non-flash
// probabilities: scaled, softmax over the padded KV length, rounded to F16 (p16) as its
// K·Q result meets V, and widened back to floats (p32) for the P·V products.
void Forward::probabilities(float* w, int n_kv, int first, int pos, uint16_t* p16, float* p32) const {
    const float scale = model_.hparams().attention_scale();
    for (int j = 0; j < n_kv; ++j) {
        w[j] = j >= first && j <= pos ? w[j] * scale : -std::numeric_limits<float>::infinity();
    }
    softmax(w, n_kv);
    kernels().fp32_to_fp16_row(w, p16, n_kv);
    kernels().fp16_to_fp32_row(p16, p32, n_kv);
}

// One head of one token: softmax(K·q * scale) over the padded KV length, then P·V, with
// scores, softmax and the probabilities' rounding to F16 exactly as llama.cpp's non-flash
// attention computes them (K·Q and P·V both through its F16 dot products).
void Forward::attention_head(int layer, int t, int h, int n_tokens, int n_past, int n_kv, int thread) {
    const Hparams& hp = model_.hparams();
    const int hd = hp.head_dim;
    const int kvh = h / (hp.n_head / hp.n_head_kv);
    const int pos = n_past + t;
    const int first = hp.visible_from(layer, pos);
    const Kernels& k = kernels();
    // llama.cpp multiplies a lone query row with ggml_vec_dot_f16, a batch with tinyBLAS
    // (both here on the F16 values widened to floats, which changes no product or sum).
    const size_t slot = static_cast<size_t>(thread) * cache_.capacity;
    float* w = &att_scores_[slot];
    uint16_t* p16 = &att_probs_[slot];
    const uint16_t* q = &q16_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
    const size_t kv_dim = static_cast<size_t>(hp.kv_dim());
    // The query (and below the probabilities) widened to floats once, not once per product.
    float* q32 = &q32_[static_cast<size_t>(thread) * hd];
    k.fp16_to_fp32_row(q, q32, hd);
    if (n_tokens == 1) {
        k.dot_f16_rows_widened_y(hd, cache_.k_at(layer, first) + kvh * hd, kv_dim, pos + 1 - first, q32, w + first);
    } else {
        k.dot_f16_batch_rows_widened(hd, k32_.data() + static_cast<size_t>(first) * kv_dim + kvh * hd, kv_dim,
                                     pos + 1 - first, q32, w + first);
    }
    float* p32 = &att_probs32_[slot];
    probabilities(w, n_kv, first, pos, p16, p32);
    float* out = &attn_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
    if (n_tokens == 1) {
        // Before a sliding window the probabilities are zero: whole 32-element steps of
        // ggml_vec_dot_f16's four accumulators add nothing there, so starting at a multiple
        // of 32 gives the same sum (each element keeps its lane) for less work.
        const int skip = first / 32 * 32;
        for (int i = 0; i < hd; ++i) {
            out[i] = k.dot_f16_widened_y(n_kv - skip, cache_.v_row(layer, kvh * hd + i) + skip, p32 + skip);
        }
    } else {
        // tinyBLAS adds 8 products per step into one accumulator: the zeros before a sliding
        // window fill whole steps when skipped 8 at a time, so the sums stay the same.
        const int skip = first / 8 * 8;
        k.dot_f16_batch_rows_widened(n_kv - skip, &v32_[static_cast<size_t>(kvh) * hd * n_kv + skip],
                                     static_cast<size_t>(n_kv), hd, p32 + skip, out);
    }
}

// The same steps as attention_head's single-query path, in three passes over the threads:
// Q·K with the threads splitting the positions (for each KV head, 64 K rows at a time meet
// every query head of its group while in L1), then each head's softmax and rounding, then
// P·V with the threads splitting the V rows (each row meets its group's heads while in L1).
// At depth the cache is read from outside L2, so reading it once per KV head instead of once
// per query head is most of the gain; every output's products and sums are attention_head's.
void Forward::attention_decode(int layer, int t, int pos, int n_kv) {
    const Hparams& hp = model_.hparams();
    const int hd = hp.head_dim;
    const int group = hp.n_head / hp.n_head_kv;
    const int first = hp.visible_from(layer, pos);
    const Kernels& k = kernels();
    const size_t cap = static_cast<size_t>(cache_.capacity);
    const size_t heads = static_cast<size_t>(hp.n_head);
    if (dec_scores_.size() < heads * cap) {
        dec_scores_.resize(heads * cap);
        dec_probs32_.resize(heads * cap);
    }
    const size_t kv_dim = static_cast<size_t>(hp.kv_dim());
    float* q32 = q32_.data();
    k.fp16_to_fp32_row(&q16_[static_cast<size_t>(t) * hp.q_dim()], q32, hp.q_dim());
    const int len = pos + 1 - first;
    const int n_threads = pool_.size();
    pool_.run([&](int thread) {
        const int begin = first + static_cast<int>(static_cast<int64_t>(len) * thread / n_threads);
        const int end = first + static_cast<int>(static_cast<int64_t>(len) * (thread + 1) / n_threads);
        for (int kvh = 0; kvh < hp.n_head_kv; ++kvh) {
            for (int j = begin; j < end; j += 64) {
                const int rows = std::min(64, end - j);
                for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
                    k.dot_f16_rows_widened_y(hd, cache_.k_at(layer, j) + kvh * hd, kv_dim, rows, q32 + static_cast<size_t>(h) * hd,
                                             &dec_scores_[h * cap + j]);
                }
            }
        }
    });
    pool_.parallel_for(hp.n_head, 1, [&](int64_t h0, int64_t h1, int thread) {
        uint16_t* p16 = &att_probs_[static_cast<size_t>(thread) * cap];
        for (int64_t h = h0; h < h1; ++h) probabilities(&dec_scores_[h * cap], n_kv, first, pos, p16, &dec_probs32_[h * cap]);
    });
    // As attention_head: the zero probabilities before a sliding window skipped in whole
    // 32-element steps.
    const int skip = first / 32 * 32;
    float* out = &attn_[static_cast<size_t>(t) * hp.q_dim()];
    pool_.parallel_for(static_cast<int64_t>(kv_dim), 8, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const int kvh = static_cast<int>(i / hd);
            const int d = static_cast<int>(i % hd);
            const uint16_t* v = cache_.v_row(layer, static_cast<int>(i)) + skip;
            for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
                out[static_cast<size_t>(h) * hd + d] = k.dot_f16_widened_y(n_kv - skip, v, &dec_probs32_[h * cap + skip]);
            }
        }
    });
}

}  // namespace natter
