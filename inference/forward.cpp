#include "inference/forward.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "core/error.h"
#include "quant/quant.h"

namespace natter {

namespace {

int default_threads() {
    // Decoding is bound by memory bandwidth; one thread per physical core is the sweet spot,
    // and hardware_concurrency() counts SMT siblings too on most machines.
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

void add_in_place(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

KvCache::KvCache(int n_ctx_, int n_layer_, int kv_dim_)
    : n_ctx(n_ctx_), n_layer(n_layer_), kv_dim(kv_dim_) {
    const size_t n = static_cast<size_t>(n_ctx) * n_layer * kv_dim;
    k.assign(n, 0);
    v.assign(n, 0);
}

Forward::Forward(const Model& model, const ForwardOptions& options)
    : model_(model),
      cache_(options.n_ctx, model.hparams().n_layer, model.hparams().kv_dim()),
      n_batch_(std::max(1, options.n_batch)),
      n_threads_(options.n_threads > 0 ? options.n_threads : default_threads()) {
    if (options.n_ctx <= 0) throw Error("the context size must be positive");
    omp_set_num_threads(n_threads_);
}

void Forward::resize_scratch(int n) {
    const Hparams& hp = model_.hparams();
    const size_t nt = static_cast<size_t>(n);
    x_.resize(nt * hp.n_embd);
    xn_.resize(nt * hp.n_embd);
    q_.resize(nt * hp.q_dim());
    k_.resize(nt * hp.kv_dim());
    v_.resize(nt * hp.kv_dim());
    attn_.resize(nt * hp.q_dim());
    gate_.resize(nt * hp.n_ff);
    up_.resize(nt * hp.n_ff);
    scores_.resize(static_cast<size_t>(n_threads_) * (cache_.n_ctx + hp.head_dim));
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

    for (int t = 0; t < n; ++t) model_.embed(tokens[t], x_.data() + t * d);

    for (int l = 0; l < hp.n_layer; ++l) {
        if (stop && stop->load(std::memory_order_relaxed)) return false;
        const LayerWeights& L = model_.layers()[static_cast<size_t>(l)];

        // Attention block.
        for (int t = 0; t < n; ++t) rms_norm(&x_[t * d], L.attn_norm.data(), hp.n_embd, hp.rms_eps, &xn_[t * d]);
        matmul(L.wq, xn_.data(), n, q_.data());
        matmul(L.wk, xn_.data(), n, k_.data());
        matmul(L.wv, xn_.data(), n, v_.data());
        for (int t = 0; t < n; ++t) {
            rope_cos_sin(hp.rope, n_past + t, rope_cos_.data(), rope_sin_.data());
            float* q = &q_[static_cast<size_t>(t) * hp.q_dim()];
            float* k = &k_[static_cast<size_t>(t) * hp.kv_dim()];
            rope_apply(q, hp.n_head, hp.head_dim, hp.rope.n_rot, rope_cos_.data(), rope_sin_.data());
            rope_apply(k, hp.n_head_kv, hp.head_dim, hp.rope.n_rot, rope_cos_.data(), rope_sin_.data());
            uint16_t* kc = cache_.k_at(l, n_past + t);
            uint16_t* vc = cache_.v_at(l, n_past + t);
            const float* v = &v_[static_cast<size_t>(t) * hp.kv_dim()];
            for (int i = 0; i < hp.kv_dim(); ++i) {
                kc[i] = fp32_to_fp16(k[i]);
                vc[i] = fp32_to_fp16(v[i]);
            }
        }
        attention(l, n, n_past);
        matmul(L.wo, attn_.data(), n, xn_.data());
        add_in_place(x_.data(), xn_.data(), n * d);

        // Feed-forward block (SwiGLU).
        for (int t = 0; t < n; ++t) rms_norm(&x_[t * d], L.ffn_norm.data(), hp.n_embd, hp.rms_eps, &xn_[t * d]);
        matmul(L.w_gate, xn_.data(), n, gate_.data());
        matmul(L.w_up, xn_.data(), n, up_.data());
        swiglu(gate_.data(), up_.data(), static_cast<int64_t>(n) * hp.n_ff, gate_.data());
        matmul(L.w_down, gate_.data(), n, xn_.data());
        add_in_place(x_.data(), xn_.data(), n * d);
    }
    if (!logits_out) return true;

    // Only the rows whose logits are wanted go through the (large) output projection.
    const int first = all_logits ? 0 : n - 1;
    const int count = n - first;
    for (int t = first; t < n; ++t) {
        rms_norm(&x_[t * d], model_.output_norm().data(), hp.n_embd, hp.rms_eps, &xn_[(t - first) * d]);
    }
    matmul(model_.output(), xn_.data(), count, logits_out);
    return true;
}

void Forward::attention(int layer, int n_tokens, int n_past) {
    const Hparams& hp = model_.hparams();
    const int hd = hp.head_dim;
    const int group = hp.n_head / hp.n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

#pragma omp parallel for collapse(2) schedule(static)
    for (int t = 0; t < n_tokens; ++t) {
        for (int h = 0; h < hp.n_head; ++h) {
            const int n_kv = n_past + t + 1;  // causal: positions up to and including this one
            const int kvh = h / group;
            float* scores = scores_.data() + static_cast<size_t>(omp_get_thread_num()) * (cache_.n_ctx + hd);
            float* q = scores + cache_.n_ctx;
            const float* qf = &q_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
            // The cache is F16, and Q meets it in F16 (as llama.cpp multiplies them).
            for (int i = 0; i < hd; ++i) q[i] = fp16_to_fp32(fp32_to_fp16(qf[i]));
            for (int j = 0; j < n_kv; ++j) {
                const uint16_t* kr = cache_.k_at(layer, j) + kvh * hd;
                float s = 0.0f;
                for (int i = 0; i < hd; ++i) s += q[i] * fp16_to_fp32(kr[i]);
                scores[j] = s * scale;
            }
            softmax(scores, n_kv);
            float* out = &attn_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
            std::fill(out, out + hd, 0.0f);
            for (int j = 0; j < n_kv; ++j) {
                const float p = fp16_to_fp32(fp32_to_fp16(scores[j]));
                const uint16_t* vr = cache_.v_at(layer, j) + kvh * hd;
                for (int i = 0; i < hd; ++i) out[i] += p * fp16_to_fp32(vr[i]);
            }
        }
    }
}

}  // namespace natter
