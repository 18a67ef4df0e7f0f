#include "inference/ops.h"

#include <omp.h>

#include <cmath>
#include <limits>

#include "quant/quant.h"

namespace natter {

void matmul(const WeightMatrix& w, const float* x, int n_tokens, float* y) {
    const TypeTraits& tt = traits(w.type);
    const GgmlType act_type = tt.vec_dot_type;
    const size_t act_row_bytes = row_size(act_type, w.cols);

    // Convert every activation row once; all weight rows reuse it.
    thread_local std::vector<uint8_t> act;
    act.resize(act_row_bytes * static_cast<size_t>(n_tokens));
    for (int t = 0; t < n_tokens; ++t) {
        quantize_activations(act_type, x + static_cast<size_t>(t) * w.cols, act.data() + t * act_row_bytes, w.cols);
    }
    const uint8_t* act_data = act.data();
    const int64_t rows = w.rows;
    // Rows outermost: each weight row is read from memory once for the whole batch.
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* wrow = w.row(r);
        for (int t = 0; t < n_tokens; ++t) {
            y[static_cast<size_t>(t) * rows + r] = vec_dot(w.type, w.cols, wrow, act_data + t * act_row_bytes);
        }
    }
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void rope_cos_sin(const RopeConfig& cfg, int32_t pos, float* cos_out, float* sin_out) {
    // theta_i = pos * base^(-2i/n_rot), built by repeated multiplication in float, which is
    // how llama.cpp evaluates it (a direct powf differs in the last bits).
    const float theta_scale = std::pow(cfg.freq_base, -2.0f / static_cast<float>(cfg.n_rot));
    float theta_base = static_cast<float>(pos);
    for (int i = 0; i < cfg.n_rot / 2; ++i) {
        float theta = theta_base;
        if (!cfg.freq_factors.empty()) theta /= cfg.freq_factors[i];
        theta *= cfg.freq_scale;
        cos_out[i] = std::cos(theta);
        sin_out[i] = std::sin(theta);
        theta_base *= theta_scale;
    }
}

void rope_apply(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v) {
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (int i = 0; i < n_rot / 2; ++i) {
            const float a = v[2 * i];
            const float b = v[2 * i + 1];
            v[2 * i] = a * cos_v[i] - b * sin_v[i];
            v[2 * i + 1] = a * sin_v[i] + b * cos_v[i];
        }
    }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void softmax(float* x, int64_t n) {
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const float e = (x[i] == -std::numeric_limits<float>::infinity()) ? 0.0f : std::exp(x[i] - max);
        x[i] = e;
        sum += e;
    }
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
