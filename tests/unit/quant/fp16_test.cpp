// Half and bfloat16 conversions: every half value against its definition, the rounding
// edge cases worked out by hand, and a spread of values against numpy's conversion.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "quant/quant.h"
#include "vectors.h"

namespace natter {
namespace {

using test::bits;

float from_bits(uint32_t b) { return std::bit_cast<float>(b); }

// A half's value from the IEEE 754 definition, computed in double.
double half_value(uint16_t h) {
    const int sign = h >> 15;
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
    return sign ? -magnitude : magnitude;
}

TEST(Fp16, EveryFiniteHalfConvertsExactlyAndBack) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const auto half = static_cast<uint16_t>(h);
        if (((half >> 10) & 0x1f) == 0x1f) continue;  // inf and NaN below
        const float f = fp16_to_fp32(half);
        ASSERT_EQ(static_cast<double>(f), half_value(half)) << std::hex << h;
        ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
        ASSERT_EQ(fp32_to_fp16(f), half) << std::hex << h;
    }
}

TEST(Fp16, InfinityAndNaNToFloat) {
    EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7c01)));  // signalling NaN stays a NaN
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0xfe00)));
    EXPECT_EQ(bits(fp16_to_fp32(0x7e00)), 0x7fc00000u);
}

TEST(Fp16, RoundingEdgeCasesFromFloat) {
    // Largest half is 65504; 65520 is the midpoint to 65536 and ties to "even" = infinity.
    EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-65520.0f), 0xfc00);
    EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
    // 1 + 2^-11 is halfway between 1 (even mantissa) and 1 + 2^-10: rounds down.
    EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
    // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9: rounds up.
    EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
    EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    // Subnormals: units of 2^-24. 2^-25 ties to 0, 3 * 2^-25 ties to 2 units.
    EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);
    EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);
    EXPECT_EQ(fp32_to_fp16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);
    EXPECT_EQ(fp32_to_fp16(5 * 0x1p-25f), 0x0002);
    EXPECT_EQ(fp32_to_fp16(-0x1p-24f), 0x8001);
    EXPECT_EQ(fp32_to_fp16(1e-30f), 0x0000);
    EXPECT_EQ(fp32_to_fp16(-1e-30f), 0x8000);
    EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
    // The largest subnormal rounds up into the smallest normal, 2^-14.
    EXPECT_EQ(fp32_to_fp16(0x1p-14f - 0x1p-26f), 0x0400);
    EXPECT_EQ(fp32_to_fp16(0x1p-14f - 0x1p-24f), 0x03ff);
    // NaN becomes the canonical quiet NaN with its sign, as in llama.cpp's reference.
    EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()), 0x7e00);
    EXPECT_EQ(fp32_to_fp16(from_bits(0xffc00000u)), 0xfe00);
    EXPECT_EQ(fp32_to_fp16(from_bits(0x7f800001u)), 0x7e00);
}

TEST(Fp16, MatchesNumpy) {
    int checked = 0;
    for (const auto& line : test::read_vector_file("quant_vectors.txt")) {
        if (line[0] != "f16") continue;
        const auto input = test::hex_values<float>(line[1]);
        const auto expected = test::hex_values<uint16_t>(line[2]);
        ASSERT_EQ(input.size(), expected.size());
        for (size_t i = 0; i < input.size(); ++i) {
            ASSERT_EQ(fp32_to_fp16(input[i]), expected[i]) << "input bits " << std::hex << bits(input[i]);
            ++checked;
        }
    }
    EXPECT_GT(checked, 1000);
}

TEST(Bf16, ToFloatIsTheTopHalf) {
    EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
    EXPECT_EQ(bf16_to_fp32(0xc040), -3.0f);
    EXPECT_EQ(bits(bf16_to_fp32(0x0001)), 0x00010000u);  // subnormals are kept
    EXPECT_EQ(bf16_to_fp32(0x7f80), std::numeric_limits<float>::infinity());
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const auto b = static_cast<uint16_t>(h);
        if ((b & 0x7fff) > 0x7f80) continue;  // NaN
        ASSERT_EQ(fp32_to_bf16(bf16_to_fp32(b)), b) << std::hex << h;
    }
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie, even below
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie, even above
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f807fffu)), 0x3f80);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000u)), 0x0002);  // subnormal tie, not flushed
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80);  // largest float overflows
    EXPECT_EQ(fp32_to_bf16(from_bits(0xff7fffffu)), 0xff80);
    EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
}

TEST(Bf16, NaNStaysQuietNaN) {
    // Truncating 0x7f800001 would give 0x7f80, infinity; the quiet bit prevents that.
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7f800001u)), 0x7fc0);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7fc00001u)), 0x7fc0);
    EXPECT_EQ(fp32_to_bf16(from_bits(0xff812345u)), 0xffc1);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7fffffffu)), 0x7fff);
}

}  // namespace
}  // namespace natter
