#include "inference/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/quant.h"

namespace natter {

namespace {

// The types of llama.cpp's tiled kernel: the k-quants and the IQ super-block formats.
bool has_tiled_kernel(GgmlType t) {
    switch (t) {
        case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
        case GgmlType::IQ4_XS: case GgmlType::IQ3_S: case GgmlType::IQ3_XXS: case GgmlType::IQ2_S:
        case GgmlType::IQ2_XS: case GgmlType::IQ2_XXS: case GgmlType::IQ1_M: case GgmlType::IQ1_S:
            return true;
        default:
            return false;
    }
}

}  // namespace

// Mirrors the dispatch of llama.cpp's CPU backend (x86, AVX2, built with llamafile and weight
// repacking, as llama-cpp-python builds it): repacked weights go to their GEMM for the rows
// of a batch in full groups of 4 and to their GEMV for the others; batches of 2+ rows go to
// tinyBLAS where it handles the type (float matrices only when rows % 4 == 0 and cols % 8 == 0);
// batches of 8+ on k-quants and IQ super-blocks to the tiled kernel; everything else (TQ1_0,
// TQ2_0) to ggml's vec_dot.
DotPath matmul_path(const WeightMatrix& w, int n_tokens, int token) {
    const GgmlType t = w.type;
    if ((t == GgmlType::Q4_0 || t == GgmlType::Q4_K || t == GgmlType::IQ4_NL) && w.rows % 8 == 0) {
        return token < n_tokens - n_tokens % 4 ? DotPath::RepackedGemm : DotPath::Repacked;
    }
    if (n_tokens >= 2) {
        if (t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q5_0 || t == GgmlType::IQ4_NL) {
            return DotPath::TinyBlas;
        }
        const bool float_type = t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
        if (float_type && w.rows % 4 == 0 && w.cols % 8 == 0) return DotPath::TinyBlas;
    }
    if (n_tokens >= 8 && has_tiled_kernel(t)) return DotPath::Tiled;
    return DotPath::Vector;
}

namespace {

// Weight rows are taken in blocks of about this many bytes: a block stays in L2 while every
// activation row of the batch passes it, so each weight byte comes from memory once. (A
// quarter of a 1 MiB L2: larger blocks mean fewer tile calls, each of which converts its
// activation rows' block scales once; 1B Q8_0 pp512 gained 2% over 64 KiB.)
constexpr size_t kWeightBlockBytes = 256 * 1024;

// Activation rows [begin, end) of a batch that all take the same summation order.
struct ActRows {
    int begin = 0;
    int end = 0;
    VecDotFn dot = nullptr;
    TileDotFn tile = nullptr;  // nullptr: one dot call per output
};

// Converts activation rows [begin, end) of x (cols wide) into act.
void quantize_rows(QuantizeRowFn quantize, const float* x, int64_t cols, uint8_t* act, size_t act_row_bytes, int64_t begin,
                   int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize(x + t * cols, act + t * act_row_bytes, cols);
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int n_tokens, float* y, ThreadPool* pool) {
    const Kernels& k = kernels();
    const GgmlType act_type = traits(w.type).vec_dot_type;
    const size_t act_row_bytes = row_size(act_type, w.cols);
    const QuantizeRowFn quantize = k.quantize_row(act_type);
    // At most two orders in one batch: one for its leading rows, one for the rest.
    const DotPath first_path = matmul_path(w, n_tokens, 0);
    int n_first = 0;
    while (n_first < n_tokens && matmul_path(w, n_tokens, n_first) == first_path) ++n_first;
    const DotPath last_path = matmul_path(w, n_tokens, n_tokens - 1);
    // Packed rows (quant/packed.h) have their own tiles, with the same bits.
    const auto tile_of = [&](DotPath path) { return w.packed ? k.packed_tile_dot(w.type, path) : k.tile_dot(w.type, path); };
    ActRows parts[2] = {
        {0, n_first, k.vec_dot(w.type, first_path), tile_of(first_path)},
        {n_first, n_tokens, k.vec_dot(w.type, last_path), tile_of(last_path)},
    };
    if (n_tokens >= kFastBatchRows && batch_order() == BatchOrder::Fast && !w.packed) {
        if (const TileDotFn fast = fast_batch_tile(w.type)) {
            parts[0] = {0, n_tokens, nullptr, fast};  // natter's own order for the whole batch
            parts[1] = {n_tokens, n_tokens, nullptr, nullptr};
        }
    }

    // Convert every activation row once (in parallel for a batch); all weight rows reuse it.
    thread_local std::vector<uint8_t> act;
    act.resize(act_row_bytes * static_cast<size_t>(n_tokens));
    uint8_t* act_data = act.data();
    if (pool && n_tokens >= 8) {
        pool->parallel_for(n_tokens, 1, [&](int64_t begin, int64_t end, int) {
            quantize_rows(quantize, x, w.cols, act_data, act_row_bytes, begin, end);
        });
    } else {
        quantize_rows(quantize, x, w.cols, act_data, act_row_bytes, 0, n_tokens);
    }

    const int64_t rows = w.rows;
    const int64_t cols = w.cols;
    // Whole groups of 16 rows (packed rows come in them; the threads' shares do too).
    const int64_t block_rows =
        std::max<int64_t>(kPackedRows, static_cast<int64_t>(kWeightBlockBytes / w.row_bytes) / kPackedRows * kPackedRows);
    const uint8_t* const w_rows = w.packed ? w.packed : w.data;
    const size_t w_stride = w.packed ? w.packed_row_bytes : w.row_bytes;
    auto rows_part = [&](int64_t begin, int64_t end, int) {
        for (int64_t r0 = begin; r0 < end; r0 += block_rows) {
            const int64_t r1 = std::min(end, r0 + block_rows);
            for (const ActRows& part : parts) {
                if (part.begin == part.end) continue;
                const uint8_t* a0 = act_data + part.begin * act_row_bytes;
                if (part.tile) {
                    part.tile(cols, w_rows + static_cast<size_t>(r0) * w_stride, w_stride, static_cast<int>(r1 - r0), a0, act_row_bytes,
                              part.end - part.begin, y + static_cast<size_t>(part.begin) * rows + r0, rows);
                    continue;
                }
                for (int64_t r = r0; r < r1; ++r) {
                    for (int t = part.begin; t < part.end; ++t) {
                        y[static_cast<size_t>(t) * rows + r] = part.dot(cols, w.row(r), act_data + t * act_row_bytes);
                    }
                }
            }
        }
    };
    if (pool) {
        pool->parallel_for(rows, kPackedRows, rows_part);
    } else {
        rows_part(0, rows, 0);
    }
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void rope_cos_sin(const RopeConfig& cfg, int32_t pos, float* cos_out, float* sin_out, bool long_context) {
    const std::vector<float>& factors =
        long_context && !cfg.freq_factors_long.empty() ? cfg.freq_factors_long : cfg.freq_factors;
    // theta_i = pos * base^(-2i/n_rot), built by repeated multiplication in float, which is
    // how llama.cpp evaluates it (a direct powf differs in the last bits).
    const float theta_scale = std::pow(cfg.freq_base, -2.0f / static_cast<float>(cfg.n_rot));
    float theta_base = static_cast<float>(pos);
    for (int i = 0; i < cfg.n_rot / 2; ++i) {
        const float theta_extrap = factors.empty() ? theta_base : theta_base / factors[i];
        float theta = cfg.freq_scale * theta_extrap;
        float mscale = cfg.attn_factor;
        if (cfg.ext_factor != 0.0f) {
            // ggml's rope_yarn, with the fused multiply-adds its compiled code has.
            const float y = (static_cast<float>(i) - cfg.yarn_low) / std::max(0.001f, cfg.yarn_high - cfg.yarn_low);
            const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * cfg.ext_factor;
            theta = std::fma(theta, 1.0f - ramp_mix, theta_extrap * ramp_mix);
            mscale *= std::fma(0.1f, std::log(1.0f / cfg.freq_scale), 1.0f);
        }
        cos_out[i] = std::cos(theta) * mscale;
        sin_out[i] = std::sin(theta) * mscale;
        theta_base *= theta_scale;
    }
}

void rope_apply(const RopeConfig& cfg, float* x, int n_heads, int head_dim, const float* cos_v, const float* sin_v) {
    const int half = cfg.n_rot / 2;
    // Pair i's two elements: 2i and 2i+1, or i and i + n_rot/2.
    const int first = cfg.neox ? 1 : 2;
    const int second = cfg.neox ? half : 1;
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (int i = 0; i < half; ++i) {
            float* p = v + first * i;
            const float a = p[0];
            const float b = p[second];
            // llama.cpp's compiled rotation fuses one product of each pair into the add.
            p[0] = std::fma(a, cos_v[i], -(b * sin_v[i]));
            p[second] = std::fma(a, sin_v[i], b * cos_v[i]);
        }
    }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) { kernels().swiglu(n, gate, up, out); }

namespace {

// ggml_gelu_f32 as ggml-cpu compiles it (the compiler fuses 1 + a*x*x into one FMA).
float gelu_tanh(float x) {
    constexpr float kCoefA = 0.044715f;
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * std::fma(kCoefA * x, x, 1.0f)));
}

// gelu at every F16 input, rounded to F16 (ggml_table_gelu_f16).
const std::vector<uint16_t>& gelu_table() {
    static const std::vector<uint16_t> table = [] {
        std::vector<uint16_t> t(1 << 16);
        for (size_t i = 0; i < t.size(); ++i) t[i] = fp32_to_fp16(gelu_tanh(fp16_to_fp32(static_cast<uint16_t>(i))));
        return t;
    }();
    return table;
}

}  // namespace

void geglu(const float* gate, const float* up, int64_t n, float* out) {
    const std::vector<uint16_t>& table = gelu_table();
    for (int64_t i = 0; i < n; ++i) {
        const float x = gate[i];
        if (x <= -10.0f) {
            out[i] = 0.0f;
        } else if (x >= 10.0f) {
            out[i] = x * up[i];
        } else {
            out[i] = fp16_to_fp32(table[fp32_to_fp16(x)]) * up[i];
        }
    }
}

void scale(float* x, int64_t n, float s) {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void softmax(float* x, int64_t n) {
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
    const double sum = kernels().softmax_exp(n, x, x, max);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

int32_t argmax(std::span<const float> x) {
    int32_t best = 0;
    for (size_t i = 1; i < x.size(); ++i) {
        if (x[i] > x[best]) best = static_cast<int32_t>(i);
    }
    return best;
}

}  // namespace natter
