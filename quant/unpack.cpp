// Decoding of the packed bit layouts. The layouts interleave elements so that SIMD code can
// extract 32 of them with one shift and mask; here we simply put them back in order.
#include "quant/unpack.h"

#include <cstring>

#include "quant/iq_tables.h"

namespace natter::detail {
namespace {

// A chunk of 2 * half elements stored as nibbles: element l in the low nibble of byte l,
// element half + l in the high nibble.
void unpack_nibbles(const uint8_t* bytes, int half, int8_t* q) {
    for (int l = 0; l < half; ++l) {
        q[l] = static_cast<int8_t>(bytes[l] & 0x0f);
        q[half + l] = static_cast<int8_t>(bytes[l] >> 4);
    }
}

// 128 elements stored as bit pairs in 32 bytes: element 32 * j + l is bits 2j..2j+1 of
// byte l.
void unpack_bit_pairs(const uint8_t* bytes, int8_t* q) {
    for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) q[32 * j + l] = static_cast<int8_t>((bytes[l] >> (2 * j)) & 3);
    }
}

// A super-block's extra bit per element, stored in 32 bytes: element i is bit i / 32 of
// byte i % 32. Adds `value` to every element whose bit is set.
void add_bit_planes(const uint8_t bits[QK_K / 8], int value, int8_t q[QK_K]) {
    for (int i = 0; i < QK_K; ++i) {
        if ((bits[i % 32] >> (i / 32)) & 1) q[i] = static_cast<int8_t>(q[i] + value);
    }
}

// The fifth bit of Q5_0 / Q5_1: element j is bit j of the little-endian 32-bit word qh.
void add_fifth_bits(const uint8_t qh[4], int8_t q[32]) {
    for (int j = 0; j < 32; ++j) {
        if ((qh[j / 8] >> (j % 8)) & 1) q[j] = static_cast<int8_t>(q[j] + 16);
    }
}

void subtract(int offset, int n, int8_t* q) {
    for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(q[i] - offset);
}

void unpack_two_halves(const uint8_t* bytes, int8_t q[QK_K]) {
    unpack_bit_pairs(bytes, q);
    unpack_bit_pairs(bytes + 32, q + 128);
}

}  // namespace

void unpack(const BlockQ4_0& block, int8_t q[QK4_0]) {
    unpack_nibbles(block.qs, QK4_0 / 2, q);
    subtract(8, QK4_0, q);
}

void unpack(const BlockQ4_1& block, int8_t q[QK4_1]) { unpack_nibbles(block.qs, QK4_1 / 2, q); }

void unpack(const BlockQ5_0& block, int8_t q[QK5_0]) {
    unpack_nibbles(block.qs, QK5_0 / 2, q);
    add_fifth_bits(block.qh, q);
    subtract(16, QK5_0, q);
}

void unpack(const BlockQ5_1& block, int8_t q[QK5_1]) {
    unpack_nibbles(block.qs, QK5_1 / 2, q);
    add_fifth_bits(block.qh, q);
}

void unpack(const BlockQ8_0& block, int8_t q[QK8_0]) { std::memcpy(q, block.qs, QK8_0); }

void unpack(const BlockQ8_1& block, int8_t q[QK8_1]) { std::memcpy(q, block.qs, QK8_1); }

void unpack(const BlockQ8_K& block, int8_t q[QK_K]) { std::memcpy(q, block.qs, QK_K); }

void unpack(const BlockIQ4_NL& block, int8_t q[QK4_NL]) {
    unpack_nibbles(block.qs, QK4_NL / 2, q);
    for (int j = 0; j < QK4_NL; ++j) q[j] = kIq4nlValues[q[j]];
}

void q3_K_scales(const uint8_t packed[12], int scales[16]) {
    // Low 4 bits: nibbles of bytes 0..7 (low nibbles are scales 0..7, high ones 8..15).
    // High 2 bits of scale j: bits 2 * (j / 4) of byte 8 + j % 4.
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? packed[j] & 0x0f : packed[j - 8] >> 4;
        const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        scales[j] = (low | (high << 4)) - 32;
    }
}

void unpack(const BlockQ2_K& block, int8_t q[QK_K], KGroups& groups) {
    unpack_two_halves(block.qs, q);
    groups.count = 16;
    groups.group_size = 16;
    for (int g = 0; g < 16; ++g) {
        groups.scales[g] = block.scales[g] & 0x0f;
        groups.mins[g] = block.scales[g] >> 4;
    }
}

void unpack(const BlockQ3_K& block, int8_t q[QK_K], KGroups& groups) {
    // The stored high bit is set when the quant is 4..7, so an unset bit means "minus 4".
    unpack_two_halves(block.qs, q);
    subtract(4, QK_K, q);
    add_bit_planes(block.hmask, 4, q);
    groups.count = 16;
    groups.group_size = 16;
    q3_K_scales(block.scales, groups.scales);
    std::memset(groups.mins, 0, sizeof(groups.mins));
}

void k4_groups(const uint8_t packed[K_SCALE_SIZE], KGroups& groups) {
    groups.count = 8;
    groups.group_size = 32;
    for (int g = 0; g < 8; ++g) k4_scale_min(packed, g, groups.scales[g], groups.mins[g]);
}

namespace {

void unpack_k4_quants(const uint8_t qs[QK_K / 2], int8_t q[QK_K]) {
    for (int chunk = 0; chunk < QK_K / 64; ++chunk) unpack_nibbles(qs + 32 * chunk, 32, q + 64 * chunk);
}

}  // namespace

void unpack(const BlockQ4_K& block, int8_t q[QK_K], KGroups& groups) {
    unpack_k4_quants(block.qs, q);
    k4_groups(block.scales, groups);
}

void unpack(const BlockQ5_K& block, int8_t q[QK_K], KGroups& groups) {
    unpack_k4_quants(block.qs, q);
    add_bit_planes(block.qh, 16, q);
    k4_groups(block.scales, groups);
}

void unpack(const BlockQ6_K& block, int8_t q[QK_K], KGroups& groups) {
    // Each half of 128: low nibbles as 64-byte nibble chunks, top two bits as bit pairs.
    for (int half = 0; half < 2; ++half) {
        int8_t* out = q + 128 * half;
        int8_t high[128];
        unpack_nibbles(block.ql + 64 * half, 64, out);
        unpack_bit_pairs(block.qh + 32 * half, high);
        for (int i = 0; i < 128; ++i) out[i] = static_cast<int8_t>((out[i] | (high[i] << 4)) - 32);
    }
    groups.count = 16;
    groups.group_size = 16;
    for (int g = 0; g < 16; ++g) groups.scales[g] = block.scales[g];
    std::memset(groups.mins, 0, sizeof(groups.mins));
}

}  // namespace natter::detail
