#pragma once
// The numeric building blocks of the forward pass. Each works on plain float rows so the
// forward pass reads like the math. They round exactly as llama.cpp's x86 CPU backend does
// (through the kernels of quant/kernels.h), so that our logits are its logits bit for bit.
#include <cstdint>
#include <span>
#include <vector>

#include "inference/thread_pool.h"
#include "quant/kernels.h"
#include "quant/packed.h"
#include "quant/types.h"

namespace natter {

// A 2-D weight matrix used in place from the file: `rows` rows of `cols` elements each.
struct WeightMatrix {
    GgmlType type = GgmlType::F32;
    int64_t cols = 0;
    int64_t rows = 0;
    size_t row_bytes = 0;
    const uint8_t* data = nullptr;
    // The same rows packed at load for this CPU's kernels (quant/packed.h), or nullptr; matmul
    // reads them instead of data when set.
    const uint8_t* packed = nullptr;
    size_t packed_row_bytes = 0;

    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
    bool empty() const { return data == nullptr; }  // an optional weight the model lacks
    // Rows [first, first + n) as a matrix of their own (one part of a fused projection).
    WeightMatrix rows_view(int64_t first, int64_t n) const {
        const bool whole_groups = packed && first % kPackedRows == 0 && n % kPackedRows == 0;
        return {type, cols, n, row_bytes, data + static_cast<size_t>(first) * row_bytes,
                whole_groups ? packed + static_cast<size_t>(first) * packed_row_bytes : nullptr,
                whole_groups ? packed_row_bytes : 0};
    }
};

// The summation order llama.cpp uses for row `token` of a batch of n_tokens rows multiplied
// with w. (It repacks (interleaves) every Q4_0, Q4_K and IQ4_NL matrix with rows % 8 == 0 at load
// time for its GEMV/GEMM kernels, the output matrix too when that is the token embedding:
// it loads a second copy of it for the output.)
DotPath matmul_path(const WeightMatrix& w, int n_tokens, int token);

// y[t] = W · x[t] for n_tokens rows x (each W.cols wide) into y (each W.rows wide).
// The activations are converted once to W's vec_dot type; rows are split across the pool's
// threads (none: the calling thread alone).
void matmul(const WeightMatrix& w, const float* x, int n_tokens, float* y, ThreadPool* pool = nullptr);

// out = x / sqrt(mean(x^2) + eps) * weight
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// Precomputed rotary cos/sin for one position. Pair i is (x[2i], x[2i+1]) (llama's
// interleaved pairs) or, with neox, (x[i], x[i + n_rot/2]) (GPT-NeoX's halves: qwen2, qwen3,
// gemma3, phi3).
struct RopeConfig {
    int n_rot = 0;              // dimensions rotated per head
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;    // 1/linear scaling factor
    std::vector<float> freq_factors;  // llama-3 rope_freqs or LongRoPE's short factors (n_rot/2 values) or empty
    // LongRoPE (phi3): these factors instead when the context is longer than n_ctx_orig.
    std::vector<float> freq_factors_long;
    int n_ctx_orig = 0;
    float attn_factor = 1.0f;  // cos and sin are multiplied by it (rope.scaling.attn_factor)
    // YaRN (qwen2's rope.scaling.type yarn): the share of extrapolation, 0 for none, ramped
    // between the correction dimensions yarn_low and yarn_high (ggml_rope_yarn_corr_dims).
    float ext_factor = 0.0f;
    float yarn_low = 0.0f, yarn_high = 0.0f;
    bool neox = false;
};
// long_context: the context is longer than cfg.n_ctx_orig (LongRoPE's long factors apply).
void rope_cos_sin(const RopeConfig& cfg, int32_t pos, float* cos_out, float* sin_out, bool long_context = false);
// Rotates each of n_heads heads (head_dim apart) of x in place.
void rope_apply(const RopeConfig& cfg, float* x, int n_heads, int head_dim, const float* cos_v, const float* sin_v);

// out[i] = silu(gate[i]) * up[i] for one row.
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu(gate[i]) * up[i] for one row, GELU in its tanh form read from a table of its
// F16-rounded value at every F16 input, as ggml's CPU backend computes it (GGML_GELU_FP16).
void geglu(const float* gate, const float* up, int64_t n, float* out);
// x[i] *= s for n values (ggml_scale).
void scale(float* x, int64_t n, float s);

// In-place softmax over x[0..n) (entries of -inf get probability 0).
void softmax(float* x, int64_t n);

// Argmax, lowest index on ties.
int32_t argmax(std::span<const float> x);

}  // namespace natter
