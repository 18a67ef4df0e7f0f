// The IQ4_NL and IQ4_XS quantizers, step for step llama.cpp's quantize_row_iq4_nl_impl as its
// quantize tool runs it (ggml_quantize_chunk: quants weighted by x², or by an importance
// matrix, 7 tries either side of the first scale), so that the bytes written are its bytes.
#include <array>
#include <cmath>
#include <cstring>

#include "quant/iq_tables.h"
#include "quant/kquant_search.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"

namespace natter::detail {
namespace {

constexpr int kTries = 7;

// The index of the value of kIq4nlValues nearest x, as llama.cpp's best_index_int8 picks it:
// the two values around x, then the lower one if x - lower < upper - x (in float). The
// quantizer's time went to mispredicted branches, so both steps are branch-free: the bracket,
// the last value <= x, is that of floor(x) (the values are integers), read from a table.
// [k + 128]: the last index whose value is <= k. (kIq4nlValues is constant-initialized, so it
// is set before this dynamic initialization runs.)
std::array<int8_t, 256> make_last_value_at_most() {
    std::array<int8_t, 256> t{};
    int i = 0;
    for (int k = -128; k < 128; ++k) {
        while (i < 15 && kIq4nlValues[i + 1] <= k) ++i;
        t[static_cast<size_t>(k + 128)] = static_cast<int8_t>(i);
    }
    return t;
}
const std::array<int8_t, 256> kLastValueAtMost = make_last_value_at_most();

int nearest_value(float x) {
    const int8_t* values = kIq4nlValues;
    if (x <= values[0]) return 0;
    if (x >= values[15]) return 15;
    int k = static_cast<int>(x);  // toward zero, then down to floor(x)
    k -= static_cast<float>(k) > x;
    const int lo = kLastValueAtMost[static_cast<size_t>(k + 128)];
    return lo + static_cast<int>(!(x - values[lo] < values[lo + 1] - x));
}

// The scale of 32 values x (weights w): the least-squares fit of the quants for the scale
// max / -127, then of those for (t - 127) / max, t = -7..7, keeping the best. L gets the
// quants of the first fit. Returns 0 for an all-zero group.
float fit_group(const float* x, const float* w, uint8_t* L) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float ax = std::fabs(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax < kGroupMaxEps) return 0.0f;
    const float first = static_cast<float>(kIq4nlValues[0]);
    float d = -max / first;
    float id = 1 / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; ++j) {
        const int l = nearest_value(id * x[j]);
        L[j] = static_cast<uint8_t>(l);
        const float q = kIq4nlValues[l];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int t = -kTries; t <= kTries; ++t) {
        id = static_cast<float>(t + kIq4nlValues[0]) / max;
        sumqx = sumq2 = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float q = kIq4nlValues[nearest_value(id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

void pack_quants(const uint8_t* L, int n, uint8_t* qs) {
    std::memset(qs, 0, static_cast<size_t>(n / 2));
    for (int i = 0; i < n / 32; ++i) pack_nibbles(L + 32 * i, 16, qs + 16 * i);
}

// The element weights: x², or with an importance matrix qw * sqrt(sigma2 + x²), sigma2 twice
// the mean of x² over the n elements (llama.cpp's quantize_row_iq4_nl_impl).
void element_weights(const float* x, const float* qw, int n, float* w) {
    if (!qw) {
        for (int j = 0; j < n; ++j) w[j] = x[j] * x[j];
        return;
    }
    float sigma2 = 0.0f;
    for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.0f / static_cast<float>(n);
    for (int j = 0; j < n; ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

void quantize_nl(const float* x, const float* qw, BlockIQ4_NL& block) {
    float w[32];
    uint8_t L[32] = {};
    element_weights(x, qw, 32, w);
    const float d = fit_group(x, w, L);
    block.d = fp32_to_fp16(d);
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(nearest_value(id * x[j]));
    pack_quants(L, 32, block.qs);
}

void quantize_xs(const float* x, const float* qw, BlockIQ4_XS& block) {
    float scales[8];
    uint8_t L[QK_K] = {};
    float w[QK_K];
    element_weights(x, qw, QK_K, w);
    float max_scale = 0.0f, amax_scale = 0.0f;
    for (int g = 0; g < 8; ++g) {
        scales[g] = fit_group(x + 32 * g, w + 32 * g, L + 32 * g);
        if (std::fabs(scales[g]) > amax_scale) {
            amax_scale = std::fabs(scales[g]);
            max_scale = scales[g];
        }
    }
    const float d = -max_scale / 32;
    block.d = fp32_to_fp16(d);
    block.scales_h = 0;
    std::memset(block.scales_l, 0, sizeof(block.scales_l));
    const float id = d ? 1 / d : 0.0f;
    for (int g = 0; g < 8; ++g) {
        int l = nearest_int(id * scales[g]);
        l = l < -32 ? -32 : l > 31 ? 31 : l;
        const float dl = d * static_cast<float>(l);
        const float idl = dl ? 1 / dl : 0.0f;
        for (int j = 0; j < 32; ++j) L[32 * g + j] = static_cast<uint8_t>(nearest_value(idl * x[32 * g + j]));
        l += 32;
        block.scales_l[g / 2] = static_cast<uint8_t>(block.scales_l[g / 2] | ((l & 0xf) << (4 * (g % 2))));
        block.scales_h = static_cast<uint16_t>(block.scales_h | ((l >> 4) << (2 * g)));
    }
    pack_quants(L, QK_K, block.qs);
}

}  // namespace

void quantize(const float* x, BlockIQ4_NL& block) { quantize_nl(x, nullptr, block); }
void quantize(const float* x, BlockIQ4_XS& block) { quantize_xs(x, nullptr, block); }
void quantize(const float* x, const float* qw, BlockIQ4_NL& block) { quantize_nl(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ4_XS& block) { quantize_xs(x, qw, block); }

}  // namespace natter::detail
