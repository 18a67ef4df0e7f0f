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

}  // namespace natter
