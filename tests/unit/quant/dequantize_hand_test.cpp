// Dequantization of hand-built blocks, with the expected values worked out by hand from
// the format description (comments show the arithmetic). Scales are exact fp16 constants:
// 0x3000 = 0.125, 0x3400 = 0.25, 0x3800 = 0.5, 0x3c00 = 1, 0x4000 = 2, 0xbc00 = -1.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace natter {
namespace {

template <typename Block>
std::vector<float> dequantize(GgmlType type, const Block& block) {
    std::vector<float> out(Block::elements);
    dequantize_row(type, &block, out.data(), Block::elements);
    return out;
}

TEST(DequantizeHand, Q4_0) {
    BlockQ4_0 b{};
    b.d = 0x3800;                       // 0.5
    std::memset(b.qs, 0x88, sizeof(b.qs));  // every q = 8 -> 0
    b.qs[0] = 0x1f;                     // elem 0: (15 - 8) * 0.5, elem 16: (1 - 8) * 0.5
    b.qs[5] = 0x03;                     // elem 5: (3 - 8) * 0.5, elem 21: (0 - 8) * 0.5
    const auto y = dequantize(GgmlType::Q4_0, b);
    EXPECT_EQ(y[0], 3.5f);
    EXPECT_EQ(y[16], -3.5f);
    EXPECT_EQ(y[5], -2.5f);
    EXPECT_EQ(y[21], -4.0f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[31], 0.0f);
}

TEST(DequantizeHand, Q4_1) {
    BlockQ4_1 b{};
    b.d = 0x3400;  // 0.25
    b.m = 0xbc00;  // -1
    b.qs[3] = 0xa5;  // elem 3: 5 * 0.25 - 1, elem 19: 10 * 0.25 - 1
    const auto y = dequantize(GgmlType::Q4_1, b);
    EXPECT_EQ(y[3], 0.25f);
    EXPECT_EQ(y[19], 1.5f);
    EXPECT_EQ(y[0], -1.0f);
    EXPECT_EQ(y[31], -1.0f);
}

TEST(DequantizeHand, Q5_0) {
    BlockQ5_0 b{};
    b.d = 0x3c00;                  // 1
    b.qs[2] = 0x3c;                // low bits: elem 2 = 12, elem 18 = 3
    b.qh[0] = 0x04;                // bit 2: elem 2 gets +16
    b.qh[3] = 0x80;                // bit 31: elem 31 gets +16
    const auto y = dequantize(GgmlType::Q5_0, b);
    EXPECT_EQ(y[2], 12.0f);        // (12 + 16) - 16
    EXPECT_EQ(y[18], -13.0f);      // 3 - 16
    EXPECT_EQ(y[31], 0.0f);        // (0 + 16) - 16
    EXPECT_EQ(y[15], -16.0f);      // 0 - 16
}

TEST(DequantizeHand, Q5_1) {
    BlockQ5_1 b{};
    b.d = 0x3800;      // 0.5
    b.m = 0x4000;      // 2
    b.qs[4] = 0xf7;    // elem 4 low = 7, elem 20 low = 15
    b.qh[2] = 0x10;    // bit 20: elem 20 gets +16
    const auto y = dequantize(GgmlType::Q5_1, b);
    EXPECT_EQ(y[4], 5.5f);    // 7 * 0.5 + 2
    EXPECT_EQ(y[20], 17.5f);  // 31 * 0.5 + 2
    EXPECT_EQ(y[0], 2.0f);
}

TEST(DequantizeHand, Q8_0AndQ8_1) {
    BlockQ8_0 a{};
    a.d = 0x3000;  // 0.125
    BlockQ8_1 b{};
    b.d = 0x4000;  // 2
    b.s = 0x7bff;  // the sum field plays no part in dequantization
    for (int k = 0; k < 32; ++k) {
        a.qs[k] = static_cast<int8_t>(k - 16);
        b.qs[k] = static_cast<int8_t>(-4 * k);
    }
    const auto ya = dequantize(GgmlType::Q8_0, a);
    const auto yb = dequantize(GgmlType::Q8_1, b);
    for (int k = 0; k < 32; ++k) {
        EXPECT_EQ(ya[k], (k - 16) * 0.125f);
        EXPECT_EQ(yb[k], -8.0f * k);
    }
}

TEST(DequantizeHand, Q2_K) {
    BlockQ2_K b{};
    b.d = 0x3800;       // 0.5
    b.dmin = 0x3400;    // 0.25
    b.scales[0] = 0x21;  // group 0: scale 1, min 2
    b.scales[5] = 0x3f;  // group 5: scale 15, min 3
    b.scales[8] = 0x52;  // group 8: scale 2, min 5
    b.scales[9] = 0x07;  // group 9: scale 7, min 0
    b.qs[17] = 0xe4;     // bit pairs 0,1,2,3 -> elems 17, 49, 81, 113
    b.qs[37] = 0x03;     // second half, byte 5, bits 0-1 -> elem 128 + 5
    b.qs[48] = 0x02;     // second half, byte 16, bits 0-1 -> elem 144
    const auto y = dequantize(GgmlType::Q2_K, b);
    EXPECT_EQ(y[0], -0.5f);     // 0.5*1*0 - 0.25*2
    EXPECT_EQ(y[17], 0.0f);     // group 1 (elems 16..31): scale 0, min 0
    EXPECT_EQ(y[81], 14.25f);   // group 5, q = 2: 0.5*15*2 - 0.25*3
    EXPECT_EQ(y[80], -0.75f);   // group 5, q = 0
    EXPECT_EQ(y[133], 1.75f);   // group 8, q = 3: 0.5*2*3 - 0.25*5
    EXPECT_EQ(y[144], 7.0f);    // group 9, q = 2: 0.5*7*2
    EXPECT_EQ(y[113], 0.0f);    // group 7: scale 0, min 0
}

TEST(DequantizeHand, Q3_K) {
    BlockQ3_K b{};
    b.d = 0x3400;  // 0.25
    // Scale 0 = 35 - 32 = 3: low nibble 3 in byte 0, high bits 2 in byte 8 bits 0-1.
    b.scales[0] = 0x03;
    b.scales[8] = 0x02;
    // Scale 13 = 27 - 32 = -5: 27 = 0b01'1011, low 0xb in byte 5's high nibble, high 1 in
    // byte 9 (8 + 13 % 4) bits 6-7 (2 * (13 / 4)). All other scales are 0 - 32 = -32.
    b.scales[5] = 0xb0;
    b.scales[9] = 0x40;
    b.qs[0] = 0x02;     // elem 0: low bits 2
    b.hmask[0] = 0x01;  // elem 0: high bit set -> q = 2
    b.qs[48] = 0x30;    // elem 208 (half 1, bit pair 2, byte 16): low bits 3, no high bit
    b.qs[49] = 0x10;    // elem 209: low bits 1
    b.hmask[17] = 0x40; // elem 209: bit 209 / 32 = 6 of byte 209 % 32 = 17 -> q = 1
    const auto y = dequantize(GgmlType::Q3_K, b);
    EXPECT_EQ(y[0], 1.5f);     // 0.25 * 3 * 2
    EXPECT_EQ(y[1], -3.0f);    // 0.25 * 3 * (0 - 4)
    EXPECT_EQ(y[208], 1.25f);  // 0.25 * -5 * (3 - 4)
    EXPECT_EQ(y[209], -1.25f); // 0.25 * -5 * 1
    EXPECT_EQ(y[100], 32.0f);  // group 6: 0.25 * -32 * (0 - 4)
}

// Scales shared by the Q4_K and Q5_K cases: group 1 scale 10 min 3, group 6 scale 37 min 50.
template <typename Block>
void set_k4_scales(Block& b) {
    b.d = 0x3800;     // 0.5
    b.dmin = 0x3c00;  // 1
    b.scales[1] = 10;
    b.scales[5] = 3;
    // Group 6: scale 37 = 0b10'0101, min 50 = 0b11'0010: low nibbles in byte 10, top
    // bits in bits 6-7 of bytes 2 (scale) and 6 (min).
    b.scales[10] = 0x25;
    b.scales[2] = 0x80;
    b.scales[6] = 0xc0;
    b.qs[3] = 0x70;   // elem 35 (high nibble of chunk 0): 7
    b.qs[98] = 0x0c;  // elem 194 (low nibble of chunk 3): 12
}

TEST(DequantizeHand, Q4_K) {
    BlockQ4_K b{};
    set_k4_scales(b);
    const auto y = dequantize(GgmlType::Q4_K, b);
    EXPECT_EQ(y[35], 32.0f);    // 0.5 * 10 * 7 - 1 * 3
    EXPECT_EQ(y[40], -3.0f);    // group 1, q = 0
    EXPECT_EQ(y[194], 172.0f);  // 0.5 * 37 * 12 - 1 * 50
    EXPECT_EQ(y[3], 0.0f);      // group 0: scale 0, min 0
    EXPECT_EQ(y[226], 0.0f);    // group 7: scale 0, min 0
}

TEST(DequantizeHand, Q5_K) {
    BlockQ5_K b{};
    set_k4_scales(b);
    b.qh[3] = 0x02;  // elem 35: bit 35 / 32 = 1 of byte 3 -> +16
    b.qh[2] = 0x40;  // elem 194: bit 6 of byte 2 -> +16
    const auto y = dequantize(GgmlType::Q5_K, b);
    EXPECT_EQ(y[35], 112.0f);   // 0.5 * 10 * 23 - 3
    EXPECT_EQ(y[194], 468.0f);  // 0.5 * 37 * 28 - 50
    EXPECT_EQ(y[40], -3.0f);
    EXPECT_EQ(y[162], 0.0f);    // bit 5 of byte 2 is clear and group 5 is all zero
}

TEST(DequantizeHand, Q6_K) {
    BlockQ6_K b{};
    b.d = 0x3800;  // 0.5
    for (auto& s : b.scales) s = 1;
    b.scales[0] = -3;
    b.scales[9] = 20;
    b.ql[0] = 0x0f;   // elem 0 low nibble 15 (elem 64 low nibble 0)
    b.qh[0] = 0x02;   // elem 0 top bits 2 (elem 64, bit pair 2: 0)
    b.ql[86] = 0x05;  // elem 150 (half 1, index 22) low nibble 5
    b.qh[54] = 0x03;  // elem 150 top bits 3
    const auto y = dequantize(GgmlType::Q6_K, b);
    EXPECT_EQ(y[0], -22.5f);   // 0.5 * -3 * (47 - 32)
    EXPECT_EQ(y[64], -16.0f);  // 0.5 * 1 * (0 - 32)
    EXPECT_EQ(y[150], 210.0f); // 0.5 * 20 * (53 - 32)
}

TEST(DequantizeHand, Q8_K) {
    BlockQ8_K b{};
    b.d = 0.5f;
    for (int k = 0; k < QK_K; ++k) b.qs[k] = static_cast<int8_t>(k - 128);
    const auto y = dequantize(GgmlType::Q8_K, b);
    for (int k = 0; k < QK_K; ++k) EXPECT_EQ(y[k], (k - 128) * 0.5f);
}

TEST(DequantizeHand, FloatTypes) {
    const uint16_t halves[2] = {0x3c00, 0xc000};
    const uint16_t brains[2] = {0x3f80, 0xc040};
    const float floats[2] = {1.5f, -0.25f};
    float y[2];
    dequantize_row(GgmlType::F16, halves, y, 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.0f);
    dequantize_row(GgmlType::BF16, brains, y, 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -3.0f);
    dequantize_row(GgmlType::F32, floats, y, 2);
    EXPECT_EQ(y[0], 1.5f);
    EXPECT_EQ(y[1], -0.25f);
}

TEST(DequantizeHand, SeveralBlocksInARow) {
    BlockQ8_0 blocks[2]{};
    blocks[0].d = 0x3c00;  // 1
    blocks[1].d = 0x4000;  // 2
    blocks[0].qs[31] = 5;
    blocks[1].qs[0] = -3;
    float y[64];
    dequantize_row(GgmlType::Q8_0, blocks, y, 64);
    EXPECT_EQ(y[31], 5.0f);
    EXPECT_EQ(y[32], -6.0f);
}

}  // namespace
}  // namespace natter
