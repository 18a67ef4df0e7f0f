#pragma once
// Internal to quant/: reading a block's integer quants and integer group scales out of its
// packed bits. Dequantization and the dot products are both written on top of these, so
// each bit layout is decoded in exactly one place.
#include <cstdint>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace natter::detail {

// Integer quants of a single-scale block, in element order, with the format's fixed offset
// already subtracted (Q4_0: q - 8, Q5_0: q - 16); Q4_1 and Q5_1 stay unsigned.
void unpack(const BlockQ4_0& block, int8_t q[QK4_0]);
void unpack(const BlockQ4_1& block, int8_t q[QK4_1]);
void unpack(const BlockQ5_0& block, int8_t q[QK5_0]);
void unpack(const BlockQ5_1& block, int8_t q[QK5_1]);
void unpack(const BlockQ8_0& block, int8_t q[QK8_0]);
void unpack(const BlockQ8_1& block, int8_t q[QK8_1]);
void unpack(const BlockQ8_K& block, int8_t q[QK_K]);
// IQ4_NL: the values the indices stand for (-127..113).
void unpack(const BlockIQ4_NL& block, int8_t q[QK4_NL]);

// The groups of a k-quant super-block: element i belongs to group i / group_size, and
// its value is d * scales[g] * q[i] - dmin * mins[g] (mins are 0 in formats without them).
struct KGroups {
    int count = 0;       // 16 groups of 16 or 8 groups of 32
    int group_size = 0;
    int scales[16] = {};
    int mins[16] = {};
};

// Integer quants of a super-block in element order (Q3_K: q - 4, Q6_K: q - 32) and its
// groups' integer scales and minimums.
void unpack(const BlockQ2_K& block, int8_t q[QK_K], KGroups& groups);
void unpack(const BlockQ3_K& block, int8_t q[QK_K], KGroups& groups);
void unpack(const BlockQ4_K& block, int8_t q[QK_K], KGroups& groups);
void unpack(const BlockQ5_K& block, int8_t q[QK_K], KGroups& groups);
void unpack(const BlockQ6_K& block, int8_t q[QK_K], KGroups& groups);
// Only the groups of Q4_K / Q5_K's 12 packed scale bytes (8 groups of 32).
void k4_groups(const uint8_t packed[K_SCALE_SIZE], KGroups& groups);

// Blocks made of groups with their own scales (the k-quants, but not Q8_K).
template <typename Block>
concept GroupedBlock = requires(const Block& block, int8_t* q, KGroups& groups) {
    unpack(block, q, groups);
};

// The 6-bit scale and min of group j (0..7) in Q4_K / Q5_K's 12 packed bytes.
// Inline: the k-quant dot products call it for every group of every block.
inline void k4_scale_min(const uint8_t packed[K_SCALE_SIZE], int j, int& scale, int& min) {
    // Groups 0..3 use the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); groups 4..7
    // keep their low 4 bits in bytes 8..11 and their top 2 bits in the spare bits 6..7 of
    // the first eight bytes.
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
        min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

// Q3_K's 16 6-bit scales (stored biased by 32), returned as -32..31.
void q3_K_scales(const uint8_t packed[12], int scales[16]);

// The float scale d of a block (fp16 in every format but Q8_K).
template <typename Block>
float scale_of(const Block& block) {
    return fp16_to_fp32(block.d);
}
inline float scale_of(const BlockQ8_K& block) { return block.d; }

// Calls f(Block{}) with a value of the block struct of `type`, so that row loops can be
// written once as templates. Returns false for the float types, which have no blocks.
template <typename F>
bool visit_block_type(GgmlType type, F&& f) {
    switch (type) {
        case GgmlType::Q4_0: f(BlockQ4_0{}); return true;
        case GgmlType::Q4_1: f(BlockQ4_1{}); return true;
        case GgmlType::Q5_0: f(BlockQ5_0{}); return true;
        case GgmlType::Q5_1: f(BlockQ5_1{}); return true;
        case GgmlType::Q8_0: f(BlockQ8_0{}); return true;
        case GgmlType::Q8_1: f(BlockQ8_1{}); return true;
        case GgmlType::Q2_K: f(BlockQ2_K{}); return true;
        case GgmlType::Q3_K: f(BlockQ3_K{}); return true;
        case GgmlType::Q4_K: f(BlockQ4_K{}); return true;
        case GgmlType::Q5_K: f(BlockQ5_K{}); return true;
        case GgmlType::Q6_K: f(BlockQ6_K{}); return true;
        case GgmlType::Q8_K: f(BlockQ8_K{}); return true;
        case GgmlType::IQ4_NL: f(BlockIQ4_NL{}); return true;
        default: return false;
    }
}

}  // namespace natter::detail
