#pragma once
// Byte layouts of the GGUF quantized blocks, exactly as they are stored in a file.
// Every field is a byte array or a little-endian integer, so a block can be read straight
// from a mapped file. fp16 values are kept as their raw uint16_t bits.
#include <cstdint>

namespace natter {

inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK8_1 = 32;
inline constexpr int QK_K = 256;        // elements in a k-quant super-block
inline constexpr int K_SCALE_SIZE = 12;  // bytes of packed 6-bit scales and mins (Q4_K, Q5_K)

// x = d * (q - 8), q in 0..15; element j in the low nibble of qs[j], j+16 in the high one.
struct BlockQ4_0 {
    static constexpr int elements = QK4_0;
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 2 + QK4_0 / 2);

// x = d * q + m, q in 0..15; same nibble order as Q4_0.
struct BlockQ4_1 {
    static constexpr int elements = QK4_1;
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 2 * 2 + QK4_1 / 2);

// x = d * (q - 16), q in 0..31: low 4 bits as in Q4_0, bit 4 of element j is bit j of qh.
struct BlockQ5_0 {
    static constexpr int elements = QK5_0;
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 2 + 4 + QK5_0 / 2);

// x = d * q + m, q in 0..31, bits laid out as in Q5_0.
struct BlockQ5_1 {
    static constexpr int elements = QK5_1;
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 2 * 2 + 4 + QK5_1 / 2);

// x = d * q.
struct BlockQ8_0 {
    static constexpr int elements = QK8_0;
    uint16_t d;
    int8_t qs[QK8_0];
};
static_assert(sizeof(BlockQ8_0) == 2 + QK8_0);

// x = d * q; s = d * sum(q), so that a dot product with a Q4_1/Q5_1 block can add
// the weight block's offset m in one multiplication.
struct BlockQ8_1 {
    static constexpr int elements = QK8_1;
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
};
static_assert(sizeof(BlockQ8_1) == 2 * 2 + QK8_1);

// 16 groups of 16: x = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4), q in 0..3.
// qs byte l of each 32-byte half holds groups' elements l, l+32, l+64, l+96 in bit pairs.
struct BlockQ2_K {
    static constexpr int elements = QK_K;
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 2 * 2 + QK_K / 16 + QK_K / 4);

// 16 groups of 16: x = d * (scale6[g] - 32) * (q - 4), q in 0..7: 2 low bits in qs (as in
// Q2_K), the high bit in hmask; 16 6-bit scales packed into 12 bytes.
struct BlockQ3_K {
    static constexpr int elements = QK_K;
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 2 + QK_K / 4 + QK_K / 8 + 12);

// 8 groups of 32: x = d * scale6[g] * q - dmin * min6[g], q in 0..15.
struct BlockQ4_K {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2);

// Q4_K plus a fifth bit per element in qh: q in 0..31.
struct BlockQ5_K {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8);

// 16 groups of 16: x = d * scales[g] * (q - 32), q in 0..63 (4 bits in ql, 2 in qh).
struct BlockQ6_K {
    static constexpr int elements = QK_K;
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 2 + QK_K / 16 + 3 * QK_K / 4);

// Activations for k-quant dot products: x = d * q, with the sums of each 16 q's kept so
// that the weights' per-group minimums can be applied without touching q again.
struct BlockQ8_K {
    static constexpr int elements = QK_K;
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == sizeof(float) + QK_K + QK_K / 16 * sizeof(int16_t));

// The IQ formats (llama.cpp's "importance matrix" quants) and the ternary ones. Their quants
// are indices into grids of values (quant/iq_tables.h); each 16 or 32 quants share a small
// integer scale, and d is the super-block's fp16 scale.

inline constexpr int QK4_NL = 32;

// x = d * kIq4nlValues[index]; indices in nibbles as Q4_0 (element j low, j+16 high).
struct BlockIQ4_NL {
    static constexpr int elements = QK4_NL;
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 2 + QK4_NL / 2);

// 8 groups of 32 as IQ4_NL, each with a 6-bit scale (ls - 32): low 4 bits in scales_l,
// high 2 in scales_h.
struct BlockIQ4_XS {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 2 + 2 + QK_K / 64 + QK_K / 2);

// Per 32 quants two uint32: four 8-bit grid indices (8 quants each), then four 7-bit sign
// patterns and a 4-bit scale in the top bits.
struct BlockIQ2_XXS {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint16_t qs[QK_K / 8];
};
static_assert(sizeof(BlockIQ2_XXS) == 2 + QK_K / 8 * 2);

// Per 8 quants a 9-bit grid index and a 7-bit sign pattern; a 4-bit scale per 16 quants.
struct BlockIQ2_XS {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ2_XS) == 2 + QK_K / 8 * 2 + QK_K / 32);

// Per 8 quants a 10-bit grid index (8 bits in qs, 2 in qh) and 8 sign bits (the second half
// of qs); a 4-bit scale per 16 quants.
struct BlockIQ2_S {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ2_S) == 2 + QK_K / 4 + QK_K / 16);

// Per 4 quants an 8-bit grid index; per 32 quants a uint32 of four 7-bit sign patterns and a
// 4-bit scale (after the 64 index bytes).
struct BlockIQ3_XXS {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint8_t qs[3 * QK_K / 8];
};
static_assert(sizeof(BlockIQ3_XXS) == 2 + 3 * (QK_K / 8));

// Per 4 quants a 9-bit grid index (8 bits in qs, 1 in qh), per quant a sign bit; a 4-bit
// scale per 32 quants.
struct BlockIQ3_S {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
};
static_assert(sizeof(BlockIQ3_S) == 2 + 13 * (QK_K / 32) + QK_K / 64);

// Per 8 quants an 11-bit index into a grid of -1/0/1 (8 bits in qs, 3 in qh); per 32 quants
// a 3-bit scale and the sign of a shift of 1/8 (qh's top bits).
struct BlockIQ1_S {
    static constexpr int elements = QK_K;
    uint16_t d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
};
static_assert(sizeof(BlockIQ1_S) == 2 + QK_K / 8 + QK_K / 16);

// As IQ1_S with the shift's sign per 8 quants and a 3-bit scale per 16; the fp16 d is spread
// over the top 4 bits of the four uint16 of scales.
struct BlockIQ1_M {
    static constexpr int elements = QK_K;
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ1_M) == QK_K / 8 + QK_K / 16 + QK_K / 32);

// Ternary, x = d * (t - 1), t in 0..2: five quants per byte of qs (base 3, as the fraction
// q / 256), four per byte of qh.
struct BlockTQ1_0 {
    static constexpr int elements = QK_K;
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    uint16_t d;
};
static_assert(sizeof(BlockTQ1_0) == 2 + QK_K / 64 + (QK_K - 4 * QK_K / 64) / 5);

// Ternary, x = d * (t - 1), t in 0..3 (2 bits): byte m of each 32 holds quants m, m+32,
// m+64, m+96 of its 128.
struct BlockTQ2_0 {
    static constexpr int elements = QK_K;
    uint8_t qs[QK_K / 4];
    uint16_t d;
};
static_assert(sizeof(BlockTQ2_0) == 2 + QK_K / 4);

}  // namespace natter
