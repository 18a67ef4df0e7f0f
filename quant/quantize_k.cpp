// Reference (non-imatrix) k-quant quantizers, byte-identical to llama.cpp's. Each one
// fits every group on its own (kquant_search.cpp), quantizes the group scales (and mins)
// against one super-block scale stored as fp16, and then re-quantizes the elements with
// the scales as they will actually be decoded, so rounding of the scales is accounted for.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/kquant_search.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"
#include "quant/unpack.h"

namespace natter::detail {
namespace {

// Two halves of 128 quants, each as bit pairs in 32 bytes.
void pack_bit_pair_halves(const uint8_t L[QK_K], uint8_t qs[QK_K / 4]) {
    pack_bit_pairs(L, qs);
    pack_bit_pairs(L + 128, qs + 32);
}

// Sets bit i / 32 of byte i % 32 for every element i whose quant is >= threshold, and
// removes the threshold from it.
void extract_bit_planes(uint8_t L[QK_K], int threshold, uint8_t bits[QK_K / 8]) {
    std::memset(bits, 0, QK_K / 8);
    for (int i = 0; i < QK_K; ++i) {
        if (L[i] >= threshold) {
            bits[i % 32] |= static_cast<uint8_t>(1u << (i / 32));
            L[i] = static_cast<uint8_t>(L[i] - threshold);
        }
    }
}

// Re-quantize a group against its decoded scale d and offset dm: L = round((x + dm) / d).
void requantize_group(const float* x, int n, float d, float dm, int lo, int hi, uint8_t* L) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + dm) / d), lo, hi));
}

// ---- Q4_K / Q5_K: 8 groups of 32 with 6-bit scales and mins ----

void pack_k4_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t packed[K_SCALE_SIZE]) {
    // Inverse of k4_scale_min (unpack.cpp).
    for (int j = 0; j < 4; ++j) {
        packed[j] = ls[j];
        packed[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; ++j) {
        packed[j + 4] = static_cast<uint8_t>((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
        packed[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
        packed[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
}

// Stores the 6-bit group scales ls and mins lm with the super-block's d and dmin, and
// re-quantizes into L (0..nmax) each group with its scale and min as they will be decoded.
template <typename Block>
void store_k4_groups(const float* x, int nmax, const uint8_t ls[8], const uint8_t lm[8], float d_block, float m_block,
                     Block& block, uint8_t L[QK_K]) {
    pack_k4_scales(ls, lm, block.scales);
    block.d = fp32_to_fp16(d_block);
    block.dmin = fp32_to_fp16(m_block);
    for (int j = 0; j < 8; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(ls[j]);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(block.dmin) * static_cast<float>(lm[j]);
        requantize_group(x + 32 * j, 32, d, dm, 0, nmax, L + 32 * j);
    }
}

// Fits the 8 groups, stores d, dmin and the packed scales, and leaves in L the quants
// (0..nmax) re-quantized with the stored scales.
template <typename Block>
void quantize_k4_groups(const float* x, const AffineSearch& search, Block& block, uint8_t L[QK_K]) {
    float scales[8];
    float mins[8];
    float max_scale = 0.0f;
    float max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        const float* xg = x + 32 * j;
        // Weight each element by its size plus the group's RMS, so large values matter more
        // without letting small ones be ignored.
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; ++l) sum_x2 += xg[l] * xg[l];
        const float av_x = std::sqrt(sum_x2 / 32);
        float weights[32];
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xg[l]);
        scales[j] = fit_scale_and_min(32, search, xg, weights, L + 32 * j, mins[j]);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t ls[8];
    uint8_t lm[8];
    for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
        lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    }
    store_k4_groups(x, search.nmax, ls, lm, max_scale / 63.0f, max_min / 63.0f, block, L);
}

// The element weights of an importance matrix as llama.cpp's quantizers form them:
// qw[i] * sqrt(sigma2 + x[i]²), sigma2 = k * mean(x²) over the n elements.
float imatrix_sigma2(const float* x, int n, float k) {
    float sum_x2 = 0.0f;
    for (int i = 0; i < n; ++i) sum_x2 += x[i] * x[i];
    return k * sum_x2 / static_cast<float>(n);
}

// Fills w[0..n) and returns their sum.
float imatrix_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
    for (int i = 0; i < n; ++i) sum += w[i];
    return sum;
}

// quantize_row_q4_K_impl / q5_K_impl: the groups fitted with the importance weights (a finer
// sweep), their scales and mins quantized by a weighted fit instead of against the largest.
template <typename Block>
void quantize_k4_groups_weighted(const float* x, const float* qw, int nmax, Block& block, uint8_t L[QK_K]) {
    const float sigma2 = imatrix_sigma2(x, QK_K, 2.0f);
    float scales[8], mins[8], sw[8];
    for (int j = 0; j < 8; ++j) {
        float weights[32];
        sw[j] = imatrix_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
        scales[j] = fit_scale_and_min(32, AffineSearch{nmax, -0.9f, 0.05f, 36, false}, x + 32 * j, weights, L + 32 * j, mins[j]);
    }
    uint8_t ls[8], lm[8];
    const float d_block = fit_positive_scale(8, 63, scales, ls, sw);
    const float m_block = fit_positive_scale(8, 63, mins, lm, sw);
    store_k4_groups(x, nmax, ls, lm, d_block, m_block, block, L);
}

// Element 64 * c + l in the low nibble of byte 32 * c + l, element 64 * c + 32 + l in
// its high nibble.
void pack_k4_nibbles(const uint8_t L[QK_K], uint8_t qs[QK_K / 2]) {
    for (int c = 0; c < QK_K / 64; ++c) pack_nibbles(L + 64 * c, 32, qs + 32 * c);
}

// ---- groups of 16 with one signed scale each (Q3_K, Q6_K) ----

// The group scale with the largest magnitude, keeping its sign.
float largest_scale(const float scales[16]) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < 16; ++j) {
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max = scales[j];
        }
    }
    return max;
}

// Q2_K's quants re-quantized with the stored scales and mins, then packed.
void finish_q2_K(const float* x, BlockQ2_K& block, uint8_t L[QK_K]) {
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(block.scales[j] & 0x0f);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(block.dmin) * static_cast<float>(block.scales[j] >> 4);
        requantize_group(x + 16 * j, 16, d, dm, 0, 3, L + 16 * j);
    }
    pack_bit_pair_halves(L, block.qs);
}

// Q3_K's 16 group scales l (0..63, biased by 32) in its 12-byte layout (q3_K_scales).
void pack_q3_K_scales(const int l[16], uint8_t packed[12]) {
    std::memset(packed, 0, 12);
    for (int j = 0; j < 16; ++j) {
        if (j < 8) {
            packed[j] = static_cast<uint8_t>(l[j] & 0x0f);
        } else {
            packed[j - 8] |= static_cast<uint8_t>((l[j] & 0x0f) << 4);
        }
        packed[8 + j % 4] |= static_cast<uint8_t>((l[j] >> 4) << (2 * (j / 4)));
    }
}

// Q3_K's quants re-quantized with the stored scales (L keeps the fitted ones of a group
// whose scale is 0), then split into the high-bit mask and bit pairs.
void finish_q3_K(const float* x, BlockQ3_K& block, uint8_t L[QK_K]) {
    int group_scales[16];
    q3_K_scales(block.scales, group_scales);
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(group_scales[j]);
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) {
            L[16 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
        }
    }
    extract_bit_planes(L, 4, block.hmask);
    pack_bit_pair_halves(L, block.qs);
}

// Q6_K from its group fits (weights x², or an importance matrix's qw).
void quantize_q6_K(const float* x, const float* qw, BlockQ6_K& block);

}  // namespace

void quantize(const float* x, BlockQ2_K& block) {
    constexpr float kLevels = 15.0f;  // 4-bit group scales and mins
    uint8_t L[QK_K];
    float scales[16];
    float mins[16];
    float max_scale = 0.0f;
    float max_min = 0.0f;
    const AffineSearch search{3, -0.5f, 0.1f, 15, true};
    for (int j = 0; j < 16; ++j) {
        float weights[16];
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = fit_scale_and_min(16, search, x + 16 * j, weights, L + 16 * j, mins[j]);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    std::memset(block.scales, 0, sizeof(block.scales));
    block.d = fp32_to_fp16(0.0f);
    block.dmin = fp32_to_fp16(0.0f);
    if (max_scale > 0) {
        const float iscale = kLevels / max_scale;
        for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
        block.d = fp32_to_fp16(max_scale / kLevels);
    }
    if (max_min > 0) {
        const float iscale = kLevels / max_min;
        for (int j = 0; j < 16; ++j) block.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
        block.dmin = fp32_to_fp16(max_min / kLevels);
    }
    finish_q2_K(x, block, L);
}

void quantize(const float* x, BlockQ3_K& block) {
    int8_t fitted[QK_K];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric_refined(16, 4, x + 16 * j, fitted + 16 * j);
    uint8_t L[QK_K];
    for (int i = 0; i < QK_K; ++i) L[i] = static_cast<uint8_t>(fitted[i]);

    const float max_scale = largest_scale(scales);
    std::memset(block.scales, 0, sizeof(block.scales));
    block.d = fp32_to_fp16(0.0f);
    if (max_scale != 0.0f) {
        // 6-bit signed group scales, -32..31, stored biased by 32.
        const float iscale = -32.0f / max_scale;
        int l[16];
        for (int j = 0; j < 16; ++j) {
            const int8_t rounded = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            l[j] = std::clamp<int>(rounded, -32, 31) + 32;
        }
        pack_q3_K_scales(l, block.scales);
        block.d = fp32_to_fp16(1 / iscale);
    }
    finish_q3_K(x, block, L);
}

void quantize(const float* x, BlockQ4_K& block) {
    uint8_t L[QK_K];
    quantize_k4_groups(x, AffineSearch{15, -1.0f, 0.1f, 20, false}, block, L);
    pack_k4_nibbles(L, block.qs);
}

void quantize(const float* x, BlockQ5_K& block) {
    uint8_t L[QK_K];
    quantize_k4_groups(x, AffineSearch{31, -0.5f, 0.1f, 15, false}, block, L);
    extract_bit_planes(L, 16, block.qh);
    pack_k4_nibbles(L, block.qs);
}

void quantize(const float* x, BlockQ6_K& block) { quantize_q6_K(x, nullptr, block); }

// ---- with an importance matrix (llama.cpp's quantize_row_*_impl) ----

void quantize(const float* x, const float* qw, BlockQ2_K& block) {
    const float sigma2 = imatrix_sigma2(x, QK_K, 1.0f);
    uint8_t L[QK_K];
    float scales[16], mins[16], sw[16];
    for (int j = 0; j < 16; ++j) {
        float weights[16];
        sw[j] = imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weights);
        scales[j] = fit_scale_and_min(16, AffineSearch{3, -0.9f, 0.05f, 36, false}, x + 16 * j, weights, L + 16 * j, mins[j]);
    }
    uint8_t ls[16], lm[16];
    block.d = fp32_to_fp16(fit_positive_scale(16, 15, scales, ls, sw));
    block.dmin = fp32_to_fp16(fit_positive_scale(16, 15, mins, lm, sw));
    for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
    finish_q2_K(x, block, L);
}

void quantize(const float* x, const float* qw, BlockQ3_K& block) {
    const float sigma2 = imatrix_sigma2(x, QK_K, 2.0f);
    int8_t fitted[QK_K];
    float scales[16], sw[16];
    for (int j = 0; j < 16; ++j) {
        float weights[16];
        sw[j] = imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weights);
        scales[j] = fit_symmetric_scale(16, 4, x + 16 * j, fitted + 16 * j, weights);
    }
    int8_t ls[16];
    const float d_block = fit_symmetric_scale(16, 32, scales, ls, sw);
    int l[16];
    for (int j = 0; j < 16; ++j) l[j] = ls[j];
    pack_q3_K_scales(l, block.scales);
    block.d = fp32_to_fp16(d_block);
    uint8_t L[QK_K];
    for (int i = 0; i < QK_K; ++i) L[i] = static_cast<uint8_t>(fitted[i]);
    finish_q3_K(x, block, L);
}

void quantize(const float* x, const float* qw, BlockQ4_K& block) {
    uint8_t L[QK_K];
    quantize_k4_groups_weighted(x, qw, 15, block, L);
    pack_k4_nibbles(L, block.qs);
}

void quantize(const float* x, const float* qw, BlockQ5_K& block) {
    uint8_t L[QK_K];
    quantize_k4_groups_weighted(x, qw, 31, block, L);
    extract_bit_planes(L, 16, block.qh);
    pack_k4_nibbles(L, block.qs);
}

void quantize(const float* x, const float* qw, BlockQ6_K& block) { quantize_q6_K(x, qw, block); }

namespace {

void quantize_q6_K(const float* x, const float* qw, BlockQ6_K& block) {
    int8_t fitted[QK_K];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric_scale(16, 32, x + 16 * j, fitted + 16 * j, qw ? qw + 16 * j : nullptr);
    const float max_scale = largest_scale(scales);
    if (std::fabs(max_scale) < kGroupMaxEps) {
        std::memset(&block, 0, sizeof(block));
        return;
    }
    const float iscale = -128.0f / max_scale;
    block.d = fp32_to_fp16(1 / iscale);
    for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));

    uint8_t L[QK_K];
    for (int i = 0; i < QK_K; ++i) L[i] = static_cast<uint8_t>(fitted[i]);
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(block.scales[j]);
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) {
            L[16 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
        }
    }
    // Per half of 128: low nibbles over a 64-byte chunk, the top two bits as bit pairs.
    for (int half = 0; half < 2; ++half) {
        const uint8_t* l = L + 128 * half;
        pack_nibbles(l, 64, block.ql + 64 * half);
        uint8_t high[128];
        for (int i = 0; i < 128; ++i) high[i] = static_cast<uint8_t>(l[i] >> 4);
        pack_bit_pairs(high, block.qh + 32 * half);
    }
}

}  // namespace

}  // namespace natter::detail
