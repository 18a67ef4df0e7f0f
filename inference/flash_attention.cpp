// Flash attention as ggml-cpu computes it (ggml_compute_forward_flash_attn_ext_f16 in
// ggml/src/ggml-cpu/ops.cpp), so that -fa on gives llama.cpp's -fa on logits bit for bit.
// llama.cpp's graph with flash attention keeps V untransposed (KvCache::v_trans false), passes
// an F16 mask of 0 and -inf (causal, and the sliding window's) and scales K·Q by kq_scale; no
// model natter runs has attention logit softcapping. ggml takes one of three paths:
//   - a lone query row over 512 or more cache positions: the positions split into n_threads
//     equal ranges, each range's online softmax apart, the partial results merged in order;
//   - 64 or more rows: tiles of 64 positions, K·Q and P·V as F32 GEMMs (simd_gemm: one
//     fused multiply-add per element and k) on F32 Q and the cache widened to F32, the
//     softmax of a tile with ggml's vectorised expf;
//   - otherwise one row and position at a time: Q rounded to F16, K·Q by ggml_vec_dot_f16,
//     libm's expf, and the values accumulated in F16 (rounded at every step).
// Masked positions add nothing on any path, so each row is computed alone here over the
// positions it may see; only where the order or the rounding depends on it (the split ranges,
// the 64-position tiles) are ggml's boundaries kept.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "inference/forward.h"
#include "quant/kernels.h"
#include "quant/quant.h"

namespace natter {

namespace {

constexpr int kSplitMin = 512;  // ggml: a lone row over this many positions splits over threads
constexpr int kTileRows = 64;   // GGML_FA_TILE_Q: this many rows or more take the tiled path
constexpr int kTileKv = 64;     // GGML_FA_TILE_KV
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void scale_row(float* x, int n, float s) {
    for (int i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace

void Forward::flash_attention(int layer, int first, int end, int n_past) {
    const Hparams& hp = model_.hparams();
    const int rows = end - first;
    const int n_kv = cache_.padded_length(n_past + end);
    const size_t group = static_cast<size_t>(hp.n_head / hp.n_head_kv);
    fa_acc16_.resize(static_cast<size_t>(n_threads_) * group * hp.head_dim);
    fa_q32_.resize(static_cast<size_t>(n_threads_) * group * hp.head_dim);
    fa_kv32_.resize(static_cast<size_t>(n_threads_) * hp.head_dim);
    if (rows == 1 && n_kv >= kSplitMin) {
        flash_split(layer, first, n_past + first, n_kv);
        return;
    }
    if (rows >= kTileRows) {
        flash_tiled(layer, first, end, n_past, n_kv);
        return;
    }
    const int hd = hp.head_dim;
    pool_.parallel_for(static_cast<int64_t>(rows) * hp.n_head, 1, [&](int64_t begin, int64_t stop, int thread) {
        for (int64_t i = begin; i < stop; ++i) {
            const int t = first + static_cast<int>(i / hp.n_head);
            const int h = static_cast<int>(i % hp.n_head);
            float* out = &attn_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
            float stats[2] = {0.0f, 0.0f};  // max, sum
            flash_heads(layer, t, h, 1, n_past + t, 0, n_kv, thread, out, stats, 0);
            scale_row(out, hd, stats[1] == 0.0f ? 0.0f : 1.0f / stats[1]);
        }
    });
}

// ggml's one_chunk for one row and heads h0 .. h0 + n - 1 (all of one KV head): the online
// softmax over the visible positions of [begin, end) in order, the values accumulated in F16
// as ggml_vec_scale_f16 / _mad_f16 do. Head i's values go to out + i * stride, its maximum and
// sum to out[i * stride - 2] and out[i * stride - 1] when stride > 0 (flash_split's partials),
// else to stats[0] and stats[1]. Each head's steps are its own, in ggml's order; its K·q
// products are formed before the loop, and heads that share a KV head share the widening of
// each V row to floats (exact), which ggml does once per head.
void Forward::flash_heads(int layer, int t, int h0, int n, int pos, int begin, int end, int thread, float* out,
                          float* stats, size_t stride) {
    const Hparams& hp = model_.hparams();
    const size_t hd = static_cast<size_t>(hp.head_dim);
    const int kvh = h0 / (hp.n_head / hp.n_head_kv);
    const float scale = hp.attention_scale();
    const Kernels& k = kernels();
    uint16_t* acc = &fa_acc16_[static_cast<size_t>(thread) * n * hd];
    std::fill(acc, acc + n * hd, uint16_t{0});
    float* q32 = &fa_q32_[static_cast<size_t>(thread) * n * hd];
    for (int i = 0; i < n; ++i) {
        k.fp16_to_fp32_row(&q16_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h0 + i) * hd], q32 + i * hd,
                           static_cast<int64_t>(hd));
    }
    float* v32 = &fa_kv32_[static_cast<size_t>(thread) * hd];
    thread_local std::vector<float> running;  // each head's maximum and sum so far
    running.assign(static_cast<size_t>(2 * n), 0.0f);
    float* m = running.data();
    float* s = m + n;
    std::fill(m, m + n, kNegInf);
    const int to = std::min(end, pos + 1);
    const int from = std::max(begin, hp.visible_from(layer, pos));
    // Every head's K·q products first (they do not depend on the running softmax), 8 K rows
    // per call, in ggml_vec_dot_f16's order as the one-row kernel forms them.
    thread_local std::vector<float> dots;
    const size_t span = static_cast<size_t>(std::max(0, to - from));
    dots.resize(static_cast<size_t>(n) * span);
    if (span > 0) {
        for (int i = 0; i < n; ++i) {
            k.dot_f16_rows_widened_y(static_cast<int64_t>(hd), cache_.k_at(layer, from) + kvh * hd,
                                     static_cast<size_t>(hp.kv_dim()), static_cast<int>(span), q32 + i * hd, &dots[i * span]);
        }
    }
    for (int ic = from; ic < to; ++ic) {
        const uint16_t* v16 = cache_.v_at(layer, ic) + kvh * hd;
        if (n > 1) k.fp16_to_fp32_row(v16, v32, static_cast<int64_t>(hd));
        for (int i = 0; i < n; ++i) {
            uint16_t* a = acc + i * hd;
            const float score = dots[i * span + static_cast<size_t>(ic - from)] * scale;
            float weight = 1.0f;
            if (score > m[i]) {
                // A new maximum: the sum so far and the values scale by expf(old - new), this
                // position weighs 1. (ggml's S = S*ms + vs is one fused multiply-add.)
                const float ms = std::exp(m[i] - score);
                m[i] = score;
                k.scale_f16(hd, a, ms);
                s[i] = std::fma(s[i], ms, 1.0f);
            } else {
                weight = std::exp(score - m[i]);
                s[i] = s[i] + weight;  // fma(s, 1, vs)
            }
            if (n > 1) {
                k.mad_f16_widened(hd, a, v32, weight);
            } else {
                k.mad_f16(hd, a, v16, weight);
            }
        }
    }
    for (int i = 0; i < n; ++i) {
        float* o = out + i * stride;
        k.fp16_to_fp32_row(acc + i * hd, o, static_cast<int64_t>(hd));
        float* st = stride > 0 ? o - 2 : stats;
        st[0] = m[i];
        st[1] = s[i];
    }
}

// A lone row over n_kv >= 512 positions: ggml splits them into n_threads ranges of
// ceil(n_kv / n_threads), runs each range's online softmax for every head, then merges the
// ranges in order (ggml_flash_attn_ext_reduce_partials, with the FMAs its compiled code has).
// Here each range takes its heads a KV head's group at a time (flash_heads).
void Forward::flash_split(int layer, int t, int pos, int n_kv) {
    const Hparams& hp = model_.hparams();
    const int hd = hp.head_dim;
    const int nth = n_threads_;
    const int group = hp.n_head / hp.n_head_kv;
    const int chunk = (n_kv + nth - 1) / nth;
    const size_t stride = 2 + static_cast<size_t>(hd);
    fa_partials_.resize(static_cast<size_t>(hp.n_head) * nth * stride);
    pool_.parallel_for(nth, 1, [&](int64_t begin, int64_t stop, int thread) {
        for (int64_t c = begin; c < stop; ++c) {
            const int ic0 = static_cast<int>(c) * chunk;
            for (int h = 0; h < hp.n_head; h += group) {
                float* p = &fa_partials_[(static_cast<size_t>(h) * nth + static_cast<size_t>(c)) * stride];
                if (ic0 < n_kv) {
                    flash_heads(layer, t, h, group, pos, ic0, std::min(ic0 + chunk, n_kv), thread, p + 2, nullptr,
                                static_cast<size_t>(nth) * stride);
                } else {
                    for (int i = 0; i < group; ++i) {
                        p[i * nth * stride] = kNegInf;
                        p[i * nth * stride + 1] = 0.0f;
                    }
                }
            }
        }
    });
    for (int h = 0; h < hp.n_head; ++h) {
        float* out = &attn_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
        std::fill(out, out + hd, 0.0f);
        float m = kNegInf, s = 0.0f;
        for (int c = 0; c < nth; ++c) {
            const float* p = &fa_partials_[(static_cast<size_t>(h) * nth + static_cast<size_t>(c)) * stride];
            if (c * chunk >= n_kv || p[1] == 0.0f) continue;
            const float m_new = std::fmax(m, p[0]);
            const float scale_old = std::exp(m - m_new);
            const float scale_new = std::exp(p[0] - m_new);
            for (int d = 0; d < hd; ++d) out[d] = std::fma(out[d], scale_old, p[2 + d] * scale_new);
            s = std::fma(s, scale_old, p[1] * scale_new);
            m = m_new;
        }
        if (s != 0.0f) scale_row(out, hd, 1.0f / s);
    }
}

// 64 or more rows: ggml's tiled path. The cache is widened to F32 once per layer and KV head
// (K in tiles of 64 positions, transposed, as ggml packs each tile; V as rows), and the
// query heads that share a KV head take their K·Q and P·V products together: every output is
// its own chain of fused multiply-adds in the order of ggml's, whatever rows share a call.
void Forward::flash_tiled(int layer, int first, int end, int n_past, int n_kv) {
    const Hparams& hp = model_.hparams();
    const int hd = hp.head_dim;
    const int kv_dim = hp.kv_dim();
    const int group = hp.n_head / hp.n_head_kv;
    const float scale = hp.attention_scale();
    const Kernels& k = kernels();
    const int n_tiles = std::min(n_kv, n_past + end + kTileKv - 1) / kTileKv;
    const size_t tile_floats = static_cast<size_t>(hd) * kTileKv;
    const size_t n = static_cast<size_t>(n_tiles) * kTileKv * kv_dim;
    if (k32_.size() < n) k32_.resize(n);
    if (v32_.size() < n) v32_.resize(n);
    pool_.parallel_for(n_tiles, 1, [&](int64_t begin, int64_t stop, int thread) {
        float* row = &q32_[static_cast<size_t>(thread) * hd];
        for (int64_t tile = begin; tile < stop; ++tile) {
            const int ic = static_cast<int>(tile) * kTileKv;
            k.fp16_to_fp32_row(cache_.v_at(layer, ic), &v32_[static_cast<size_t>(ic) * kv_dim],
                               static_cast<int64_t>(kTileKv) * kv_dim);
            for (int g = 0; g < hp.n_head_kv; ++g) {
                float* dst = &k32_[(static_cast<size_t>(g) * n_tiles + static_cast<size_t>(tile)) * tile_floats];
                for (int tk = 0; tk < kTileKv; ++tk) {
                    k.fp16_to_fp32_row(cache_.k_at(layer, ic + tk) + g * hd, row, hd);
                    for (int d = 0; d < hd; ++d) dst[static_cast<size_t>(d) * kTileKv + tk] = row[d];
                }
            }
        }
    });

    // Work items: a KV head and a block of rows, about 64 query rows (rows x heads) each.
    const int block = std::max(1, kTileRows / group);
    const int rows_max = block * group;
    const int n_blocks = (end - first + block - 1) / block;
    const size_t per_thread = static_cast<size_t>(rows_max) * (2 * hd + kTileKv + 2);
    if (fa_tile_.size() < per_thread * n_threads_) fa_tile_.resize(per_thread * n_threads_);
    pool_.parallel_for(static_cast<int64_t>(hp.n_head_kv) * n_blocks, 1, [&](int64_t begin, int64_t stop, int thread) {
        float* qa = &fa_tile_[per_thread * static_cast<size_t>(thread)];
        float* kq = qa + static_cast<size_t>(rows_max) * hd;
        float* acc = kq + static_cast<size_t>(rows_max) * kTileKv;
        float* maxes = acc + static_cast<size_t>(rows_max) * hd;
        float* sums = maxes + rows_max;
        for (int64_t item = begin; item < stop; ++item) {
            const int g = static_cast<int>(item / n_blocks);
            const int t0 = first + static_cast<int>(item % n_blocks) * block;
            const int t1 = std::min(end, t0 + block);
            const int rows = (t1 - t0) * group;
            for (int r = 0; r < rows; ++r) {
                const int t = t0 + r / group, h = g * group + r % group;
                std::copy_n(&q_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd], hd, qa + r * hd);
                std::fill(acc + r * hd, acc + (r + 1) * hd, 0.0f);
                maxes[r] = kNegInf;
                sums[r] = 0.0f;
            }
            const int last_tile = (n_past + t1 - 1) / kTileKv;
            for (int tile = hp.visible_from(layer, n_past + t0) / kTileKv; tile <= last_tile; ++tile) {
                const int ic = tile * kTileKv;
                std::fill(kq, kq + static_cast<size_t>(rows) * kTileKv, 0.0f);
                k.gemm_f32_fma(rows, hd, kTileKv, qa, static_cast<size_t>(hd),
                               &k32_[(static_cast<size_t>(g) * n_tiles + static_cast<size_t>(tile)) * tile_floats], kTileKv,
                               kq, kTileKv);
                for (int r = 0; r < rows; ++r) {
                    const int pos = n_past + t0 + r / group;
                    const int from = hp.visible_from(layer, pos);
                    float* w = kq + static_cast<size_t>(r) * kTileKv;
                    float tile_max = kNegInf;
                    for (int j = 0; j < kTileKv; ++j) {
                        w[j] = ic + j >= from && ic + j <= pos ? w[j] * scale : kNegInf;
                        tile_max = std::max(tile_max, w[j]);
                    }
                    if (tile_max == kNegInf) {  // nothing visible here: this row adds nothing
                        std::fill(w, w + kTileKv, 0.0f);
                        continue;
                    }
                    const float m_new = std::fmax(maxes[r], tile_max);
                    if (m_new > maxes[r]) {
                        const float ms = std::exp(maxes[r] - m_new);
                        scale_row(acc + r * hd, hd, ms);
                        sums[r] *= ms;
                    }
                    maxes[r] = m_new;
                    sums[r] = static_cast<float>(static_cast<double>(sums[r]) + k.softmax_exp(kTileKv, w, w, m_new));
                }
                k.gemm_f32_fma(rows, kTileKv, hd, kq, kTileKv, &v32_[static_cast<size_t>(ic) * kv_dim + g * hd],
                               static_cast<size_t>(kv_dim), acc, static_cast<size_t>(hd));
            }
            for (int r = 0; r < rows; ++r) {
                const int t = t0 + r / group, h = g * group + r % group;
                float* out = &attn_[static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(h) * hd];
                const float inv = sums[r] == 0.0f ? 0.0f : 1.0f / sums[r];
                for (int d = 0; d < hd; ++d) out[d] = acc[r * hd + d] * inv;
            }
        }
    });
}

}  // namespace natter
