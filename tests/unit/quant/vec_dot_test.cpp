// vec_dot against dot products of dequantized rows, computed here in double.
//  1. With the same quantized activations: vec_dot computes exactly sum(w'_i * a'_i) of
//     the decoded values, so only float rounding separates them (for Q4_1 / Q5_1 after
//     accounting for Q8_1's stored sum s, which the format uses instead of d * sum q).
//  2. With the original float activations: the difference is then bounded by what the
//     activation quantization may lose, sum_i |w'_i| * (max error of a_i).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "test_rows.h"
#include "vectors.h"

namespace natter {
namespace {

using test::half_rounding;
using test::kHalfEps;

constexpr double kFloatEps = 1.0 / (1 << 23);


struct Quantized {
    GgmlType type;
    std::vector<uint8_t> bytes;
    std::vector<float> decoded;
};

Quantized quantize(GgmlType type, const std::vector<float>& x, bool as_activation) {
    const auto n = static_cast<int64_t>(x.size());
    Quantized q{type, std::vector<uint8_t>(row_size(type, n)), std::vector<float>(x.size())};
    if (as_activation) {
        quantize_activations(type, x.data(), q.bytes.data(), n);
    } else {
        quantize_row(type, x.data(), q.bytes.data(), n);
    }
    dequantize_row(type, q.bytes.data(), q.decoded.data(), n);
    return q;
}

// Largest error quantization may put on activation i, from the block's stored scale.
double activation_error(const Quantized& a, int i) {
    switch (a.type) {
        case GgmlType::Q8_0: {
            const double d = fp16_to_fp32(reinterpret_cast<const BlockQ8_0*>(a.bytes.data())[i / 32].d);
            return d / 2 + 127 * half_rounding(d);
        }
        case GgmlType::Q8_1: {
            const double d = fp16_to_fp32(reinterpret_cast<const BlockQ8_1*>(a.bytes.data())[i / 32].d);
            return d / 2 + 127 * half_rounding(d);
        }
        case GgmlType::Q8_K: {
            // Q8_K's d carries the sign that maps the largest element to -127.
            const double d = std::fabs(reinterpret_cast<const BlockQ8_K*>(a.bytes.data())[i / 256].d);
            return d / 2 * (1 + 1e-6);
        }
        case GgmlType::F16: return half_rounding(a.decoded[i]);
        case GgmlType::BF16: return std::fabs(a.decoded[i]) / 256;
        default: return 0;
    }
}

// Q4_1 / Q5_1 dot products take the activations' sum from Q8_1's stored s = fp16(d * sum q)
// rather than from the decoded values (d rounded to fp16 first). Returns
// sum over blocks of m * (s - d16 * sum q): what that adds to the decoded dot product.
// Adds the size of the m * s terms to `magnitude`.
double q8_1_sum_correction(GgmlType weight_type, const Quantized& w, const Quantized& a, double& magnitude) {
    if (a.type != GgmlType::Q8_1) return 0;
    double correction = 0;
    const auto* act = reinterpret_cast<const BlockQ8_1*>(a.bytes.data());
    for (size_t b = 0; b < a.bytes.size() / sizeof(BlockQ8_1); ++b) {
        const double m = weight_type == GgmlType::Q4_1
                             ? fp16_to_fp32(reinterpret_cast<const BlockQ4_1*>(w.bytes.data())[b].m)
                             : fp16_to_fp32(reinterpret_cast<const BlockQ5_1*>(w.bytes.data())[b].m);
        int sum = 0;
        for (int8_t v : act[b].qs) sum += v;
        const double s = fp16_to_fp32(act[b].s);
        correction += m * (s - fp16_to_fp32(act[b].d) * static_cast<double>(sum));
        magnitude += std::fabs(m * s);
    }
    return correction;
}

// Checks both bounds; returns the activation bound relative to the size of the terms.
double check_type(GgmlType type, const std::vector<float>& weights, const std::vector<float>& acts) {
    const auto n = static_cast<int64_t>(weights.size());
    const GgmlType act_type = traits(type).vec_dot_type;
    const Quantized w = quantize(type, weights, false);
    const Quantized a = quantize(act_type, acts, true);
    const double result = vec_dot(type, n, w.bytes.data(), a.bytes.data());

    double magnitude = 0;
    double exact = q8_1_sum_correction(type, w, a, magnitude), with_floats = 0, activation_bound = 0;
    for (int64_t i = 0; i < n; ++i) {
        exact += static_cast<double>(w.decoded[i]) * a.decoded[i];
        magnitude += std::fabs(static_cast<double>(w.decoded[i]) * a.decoded[i]);
        with_floats += static_cast<double>(w.decoded[i]) * acts[i];
        activation_bound += std::fabs(w.decoded[i]) * activation_error(a, static_cast<int>(i));
    }
    // Float rounding: each block's scaled sum and the running total round once or twice
    // per block; 2 * (blocks + 2) ulps of the magnitude covers it generously.
    const double blocks = static_cast<double>(n) / traits(type).block_size;
    const double rounding = 2 * (std::min(blocks, 64.0) + 2) * kFloatEps * magnitude + 1e-30;
    // m * s rounds like the other terms, and s itself is within fp16 rounding of the sum.
    const double sum_slack = a.type == GgmlType::Q8_1 ? 2 * kHalfEps * magnitude : 0.0;
    EXPECT_NEAR(result, exact, rounding) << "against the decoded activations";
    EXPECT_NEAR(result, with_floats, activation_bound + rounding + sum_slack) << "against the float activations";
    return activation_bound / (magnitude + 1e-30);
}

TEST(VecDot, MatchesDequantizedDotProducts) {
    constexpr int n = 1536;  // SmolLM2's ffn width: 6 super-blocks, 48 blocks of 32
    const auto weight_rows = test::test_rows(n, 21);
    const auto act_rows = test::test_rows(n, 22);
    for (const auto& wr : weight_rows) {
        for (const auto& ar : act_rows) {
            for (GgmlType type : test::kWeightTypes) {
                SCOPED_TRACE(std::string(type_name(type)) + " weights " + wr.name + ", activations " + ar.name);
                const double relative_bound = check_type(type, wr.values, ar.values);
                // For ordinary activations the bound must be meaningful, not vacuous.
                if (ar.name == "normal" && type != GgmlType::F32) {
                    EXPECT_LT(relative_bound, 0.05);
                }
            }
        }
    }
}

TEST(VecDot, HandBuiltQ4_1TimesQ8_1) {
    // One block: w_i = 0.5 * q_i + 1 with q_i = i % 16, a_i = 2 * p_i with p_i = 1.
    BlockQ4_1 w{};
    w.d = 0x3800;  // 0.5
    w.m = 0x3c00;  // 1
    for (int j = 0; j < 16; ++j) w.qs[j] = static_cast<uint8_t>((j % 16) | (((j + 16) % 16) << 4));
    BlockQ8_1 a{};
    a.d = 0x4000;  // 2
    a.s = 0x5400;  // 64 = d * sum q = 2 * 32
    for (auto& v : a.qs) v = 1;
    // sum_i (0.5 * q_i + 1) * 2 = sum_i q_i + 64 = 2 * (0 + ... + 15) + 64 = 304.
    EXPECT_EQ(vec_dot(GgmlType::Q4_1, 32, &w, &a), 304.0f);
}

TEST(VecDot, HandBuiltQ6_KTimesQ8_K) {
    // Every q = 33 (value 1 after the -32 offset), group scales g + 1, d = 0.25;
    // activations all 2 with d = 0.5, i.e. 1.0. Sum: 0.25 * 16 * sum(g + 1) = 4 * 136.
    BlockQ6_K w{};
    w.d = 0x3400;
    for (int g = 0; g < 16; ++g) w.scales[g] = static_cast<int8_t>(g + 1);
    for (auto& b : w.ql) b = 0x11;  // low nibbles 1
    for (auto& b : w.qh) b = 0xaa;  // top bits 2 for every element: 1 + 32 = 33
    BlockQ8_K a{};
    a.d = 0.5f;
    for (auto& v : a.qs) v = 2;
    for (auto& s : a.bsums) s = 32;
    EXPECT_EQ(vec_dot(GgmlType::Q6_K, 256, &w, &a), 544.0f);
}

TEST(VecDot, Q4_KUsesTheMinsThroughBlockSums) {
    // All quants 0, so the result is -dmin * da * sum_g min_g * (sum of the group's q8):
    // group 0 min 5, bsums[0] + bsums[1] = 10 + 6. -1 * 0.5 * 5 * 16 = -40.
    BlockQ4_K w{};
    w.d = 0x3c00;
    w.dmin = 0x3c00;
    w.scales[4] = 5;  // min of group 0
    BlockQ8_K a{};
    a.d = 0.5f;
    a.bsums[0] = 10;
    a.bsums[1] = 6;
    a.bsums[2] = 100;  // group 1, whose min is 0
    EXPECT_EQ(vec_dot(GgmlType::Q4_K, 256, &w, &a), -40.0f);
}

}  // namespace
}  // namespace natter
