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
    pack_k4_scales(ls, lm, block.scales);
    block.d = fp32_to_fp16(max_scale / 63.0f);
    block.dmin = fp32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 8; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(ls[j]);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(block.dmin) * static_cast<float>(lm[j]);
        requantize_group(x + 32 * j, 32, d, dm, 0, search.nmax, L + 32 * j);
    }
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
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_fp32(block.d) * static_cast<float>(block.scales[j] & 0x0f);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(block.dmin) * static_cast<float>(block.scales[j] >> 4);
        requantize_group(x + 16 * j, 16, d, dm, 0, 3, L + 16 * j);
    }
    pack_bit_pair_halves(L, block.qs);
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
        // 6-bit signed group scales, -32..31, stored biased by 32 (layout: q3_K_scales).
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; ++j) {
            const int8_t rounded = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            const int l = std::clamp<int>(rounded, -32, 31) + 32;
            if (j < 8) {
                block.scales[j] = static_cast<uint8_t>(l & 0x0f);
            } else {
                block.scales[j - 8] |= static_cast<uint8_t>((l & 0x0f) << 4);
            }
            block.scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
        }
        block.d = fp32_to_fp16(1 / iscale);
    }
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

void quantize(const float* x, BlockQ6_K& block) {
    int8_t fitted[QK_K];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric_scale(16, 32, x + 16 * j, fitted + 16 * j);
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

}  // namespace natter::detail
