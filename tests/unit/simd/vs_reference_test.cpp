// Every AVX2 kernel against the portable reference kernel it replaces, on random data.
//
// Activation quantizers and the F16 conversion produce the same bytes. Dot products sum the
// same exact integer block sums (or the same float products) in another order and width, so
// they may differ by rounding only: at most a few ulps of the magnitude sum |w_i * a_i| per
// block added. A kernel that reads a wrong nibble, scale or offset misses that bound by
// orders of magnitude. (tests/unit/simd/simd_vectors_test.cpp holds the AVX2 kernels to
// llama.cpp's own results bit for bit; this test holds them to our independent oracle.)
#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/kernels.h"
#include "quant/quant.h"

namespace natter {
namespace {

const GgmlType kWeightTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                                 GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
                                 GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                                 // the IQ and ternary formats
                                 GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::IQ3_S, GgmlType::IQ3_XXS,
                                 GgmlType::IQ2_S, GgmlType::IQ2_XS, GgmlType::IQ2_XXS, GgmlType::IQ1_M,
                                 GgmlType::IQ1_S, GgmlType::TQ1_0, GgmlType::TQ2_0};
const DotPath kPaths[] = {DotPath::Vector, DotPath::TinyBlas, DotPath::Repacked, DotPath::RepackedGemm, DotPath::Tiled};

std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    // A few outliers, as real activations have.
    for (size_t i = 0; i < n; i += 97) v[i] *= 20.0f;
    return v;
}

const Kernels& simd() { return *avx2_kernels(); }

// A weight row of n values: quantized from wf where natter can, else random bytes (every
// bit pattern is a valid block) with each block's fp16 scale set to a weight-like 0.0032.
std::vector<uint8_t> weight_row(GgmlType type, const std::vector<float>& wf, std::mt19937& rng) {
    const auto n = static_cast<int64_t>(wf.size());
    std::vector<uint8_t> w(row_size(type, n));
    try {
        quantize_row(type, wf.data(), w.data(), n);
        return w;
    } catch (const Error&) {
    }
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
    const size_t block = traits(type).type_size;
    constexpr uint16_t kScale = 0x1a8e;  // 0.0032 as an IEEE half
    for (size_t at = 0; at < w.size(); at += block) {
        if (type == GgmlType::IQ1_M) {  // the half is the top nibbles of the 4 scale words
            for (int k = 0; k < 4; ++k) {
                uint8_t& hi = w[at + block - 8 + 2 * k + 1];
                hi = static_cast<uint8_t>((hi & 0x0f) | (((kScale >> (4 * k)) & 0xf) << 4));
            }
            continue;
        }
        const bool d_last = type == GgmlType::TQ1_0 || type == GgmlType::TQ2_0;
        std::memcpy(&w[at + (d_last ? block - 2 : 0)], &kScale, 2);
    }
    return w;
}

class VsReference : public ::testing::Test {
protected:
    void SetUp() override {
        if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    }
};

TEST_F(VsReference, ActivationQuantizersWriteTheSameBytes) {
    std::mt19937 rng(7);
    for (const GgmlType act : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
        for (const int64_t n : {256, 1536, 5632}) {
            const std::vector<float> x = random_floats(rng, static_cast<size_t>(n), 0.7f);
            std::vector<uint8_t> want(row_size(act, n)), got(row_size(act, n));
            reference_kernels().quantize_row(act)(x.data(), want.data(), n);
            simd().quantize_row(act)(x.data(), got.data(), n);
            EXPECT_EQ(want, got) << type_name(act) << " n=" << n;
        }
    }
}

// Q8_K's quantizer where its branches are: the largest magnitude twice with opposite signs
// (the first sets the sign of the scale), an all-zero block, subnormals only, values that
// land on .5 after scaling. (A NaN or an infinity never gets here: the reference refuses the
// row, and the engine stops at the first non-finite activation before it is quantized.)
TEST_F(VsReference, Q8KActivationQuantizerOnItsEdgeCases) {
    std::mt19937 rng(8);
    std::vector<std::vector<float>> blocks;
    for (const float first : {-3.0f, 3.0f}) {
        std::vector<float> x = random_floats(rng, QK_K, 0.7f);
        x[5] = first;
        x[200] = -first;
        blocks.push_back(x);
    }
    blocks.push_back(std::vector<float>(QK_K, 0.0f));
    blocks.push_back(std::vector<float>(QK_K, 1e-41f));
    std::vector<float> halves(QK_K);
    for (int i = 0; i < QK_K; ++i) halves[i] = static_cast<float>(i % 255 - 127) + 0.5f;
    halves[0] = -127.0f;
    blocks.push_back(halves);
    for (const std::vector<float>& x : blocks) {
        std::vector<uint8_t> want(row_size(GgmlType::Q8_K, QK_K)), got(want.size());
        reference_kernels().quantize_row(GgmlType::Q8_K)(x.data(), want.data(), QK_K);
        simd().quantize_row(GgmlType::Q8_K)(x.data(), got.data(), QK_K);
        EXPECT_EQ(want, got) << "block " << (&x - blocks.data());
    }
}

TEST_F(VsReference, DotProductsAgreeUpToSummationOrder) {
    std::mt19937 rng(11);
    int checked = 0;
    for (const GgmlType type : kWeightTypes) {
        const GgmlType act_type = traits(type).vec_dot_type;
        for (const int64_t n : {256, 1536, 5632}) {
            const std::vector<float> wf = random_floats(rng, static_cast<size_t>(n), 0.05f);
            const std::vector<float> af = random_floats(rng, static_cast<size_t>(n), 1.0f);
            const std::vector<uint8_t> w = weight_row(type, wf, rng);
            std::vector<uint8_t> a(row_size(act_type, n));
            reference_kernels().quantize_row(act_type)(af.data(), a.data(), n);

            // The scale of the terms, from the values both kernels actually multiply.
            std::vector<float> wd(static_cast<size_t>(n)), ad(static_cast<size_t>(n));
            dequantize_row(type, w.data(), wd.data(), n);
            dequantize_row(act_type, a.data(), ad.data(), n);
            double magnitude = 0;
            for (size_t i = 0; i < wd.size(); ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * ad[i]);
            const double blocks = static_cast<double>(n) / traits(type).block_size;
            const double bound = 4 * (std::min(blocks, 64.0) + 8) * 0x1p-24 * magnitude;

            const float want = reference_kernels().vec_dot(type, DotPath::Vector)(n, w.data(), a.data());
            for (const DotPath path : kPaths) {
                const float got = simd().vec_dot(type, path)(n, w.data(), a.data());
                EXPECT_NEAR(got, want, bound) << type_name(type) << " path " << static_cast<int>(path) << " n=" << n
                                              << " magnitude " << magnitude;
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 24 * 3 * 5);
}

TEST_F(VsReference, HalfPrecisionAttentionKernels) {
    std::mt19937 rng(13);
    for (const int64_t n : {64, 100, 576}) {
        const std::vector<float> xf = random_floats(rng, static_cast<size_t>(n) * 3, 1.0f);
        const std::vector<float> yf = random_floats(rng, static_cast<size_t>(n), 1.0f);
        std::vector<uint16_t> x(xf.size()), y(yf.size()), x_ref(xf.size());
        simd().fp32_to_fp16_row(xf.data(), x.data(), static_cast<int64_t>(x.size()));
        reference_kernels().fp32_to_fp16_row(xf.data(), x_ref.data(), static_cast<int64_t>(x.size()));
        EXPECT_EQ(x, x_ref) << "fp32_to_fp16_row n=" << n;
        simd().fp32_to_fp16_row(yf.data(), y.data(), n);

        double magnitude = 0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(fp16_to_fp32(x[i])) * fp16_to_fp32(y[i]));
        const double bound = 4 * (static_cast<double>(n) / 8 + 8) * 0x1p-24 * magnitude;
        const float want = reference_kernels().dot_f16(n, x.data(), y.data());
        EXPECT_NEAR(simd().dot_f16(n, x.data(), y.data()), want, bound) << "dot_f16 n=" << n;
        EXPECT_NEAR(simd().dot_f16_batch(n, x.data(), y.data()), want, bound) << "dot_f16_batch n=" << n;
        float rows[3];
        simd().dot_f16_batch_rows(n, x.data(), static_cast<size_t>(n), 3, y.data(), rows);
        for (int r = 0; r < 3; ++r) {
            EXPECT_NEAR(rows[r], reference_kernels().dot_f16(n, x.data() + r * n, y.data()), bound) << "row " << r;
        }
    }
}

TEST_F(VsReference, SoftmaxAndSwiGlu) {
    std::mt19937 rng(17);
    for (const int64_t n : {7, 64, 1536}) {
        const std::vector<float> x = random_floats(rng, static_cast<size_t>(n), 3.0f);
        float max = x[0];
        for (const float v : x) max = std::max(max, v);
        std::vector<float> y_ref(x.size()), y(x.size());
        const double sum_ref = reference_kernels().softmax_exp(n, y_ref.data(), x.data(), max);
        const double sum = simd().softmax_exp(n, y.data(), x.data(), max);
        EXPECT_NEAR(sum, sum_ref, 1e-6 * sum_ref) << "n=" << n;
        for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], y_ref[i], 4e-7f * y_ref[i] + 1e-30f) << "exp " << i;

        const std::vector<float> up = random_floats(rng, static_cast<size_t>(n), 1.0f);
        std::vector<float> out_ref(x.size()), out(x.size());
        reference_kernels().swiglu(n, x.data(), up.data(), out_ref.data());
        simd().swiglu(n, x.data(), up.data(), out.data());
        for (size_t i = 0; i < out.size(); ++i) {
            EXPECT_NEAR(out[i], out_ref[i], 1e-6f * std::fabs(out_ref[i]) + 1e-30f) << "swiglu " << i;
        }
    }
}

}  // namespace
}  // namespace natter
