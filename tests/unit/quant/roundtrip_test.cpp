// quantize_row then dequantize_row: every element must come back as the level of its
// block's grid nearest to the input (the grid being d * l + offset for the format's range
// of l), up to the slack the format itself allows: in the 32-element formats q is chosen
// with the float scale but decoded with its fp16 rounding (relative error <= 2^-11, or
// 2^-25 absolute for subnormal halves).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/unpack.h"
#include "test_rows.h"
#include "vectors.h"

namespace natter {
namespace {

using test::half_rounding;


// Levels step * l + offset for l in lo..hi, and how far off the nearest one may be.
struct Grid {
    double step = 0, offset = 0;
    int lo = 0, hi = 0;
    double slack = 0;
};

double nearest_level_distance(const Grid& g, double x) {
    double best = INFINITY;
    for (int l = g.lo; l <= g.hi; ++l) best = std::min(best, std::fabs(x - (g.step * l + g.offset)));
    return best;
}

// Grid of element i of a row in a single-scale format.
template <typename Block>
Grid simple_grid(const void* row, int i, int lo, int hi) {
    const Block& b = static_cast<const Block*>(row)[i / Block::elements];
    Grid g;
    g.step = detail::scale_of(b);
    g.lo = lo;
    g.hi = hi;
    const double top = std::max(std::abs(lo), std::abs(hi));
    // Levels of the float grid q was chosen on are at most `shift` from the stored grid's,
    // so the chosen level is at most 2 * shift further than the stored grid's nearest.
    double shift = top * half_rounding(g.step);
    if constexpr (requires { b.m; }) {
        g.offset = fp16_to_fp32(b.m);
        shift += half_rounding(g.offset);
    }
    g.slack = 2 * shift;
    g.slack += 1e-6 * (std::fabs(g.step) * top + std::fabs(g.offset));  // float arithmetic
    return g;
}

// Grid of element i in a k-quant: scales are already fp16-rounded when q is chosen.
template <typename Block>
Grid group_grid(const void* row, int i, int lo, int hi) {
    const Block& b = static_cast<const Block*>(row)[i / QK_K];
    int8_t q[QK_K];
    detail::KGroups groups;
    detail::unpack(b, q, groups);
    const int g = (i % QK_K) / groups.group_size;
    double dmin = 0;
    if constexpr (requires { b.dmin; }) dmin = fp16_to_fp32(b.dmin);
    Grid grid;
    grid.step = fp16_to_fp32(b.d) * groups.scales[g];
    grid.offset = -dmin * groups.mins[g];
    grid.lo = lo;
    grid.hi = hi;
    grid.slack = 1e-6 * (std::fabs(grid.step) * std::max(-lo, hi) + std::fabs(grid.offset));
    return grid;
}

Grid grid_of(GgmlType type, const void* row, int i) {
    switch (type) {
        case GgmlType::Q4_0: return simple_grid<BlockQ4_0>(row, i, -8, 7);
        case GgmlType::Q4_1: return simple_grid<BlockQ4_1>(row, i, 0, 15);
        case GgmlType::Q5_0: return simple_grid<BlockQ5_0>(row, i, -16, 15);
        case GgmlType::Q5_1: return simple_grid<BlockQ5_1>(row, i, 0, 31);
        case GgmlType::Q8_0: return simple_grid<BlockQ8_0>(row, i, -127, 127);
        case GgmlType::Q8_1: return simple_grid<BlockQ8_1>(row, i, -127, 127);
        case GgmlType::Q8_K: return simple_grid<BlockQ8_K>(row, i, -127, 127);
        case GgmlType::Q2_K: return group_grid<BlockQ2_K>(row, i, 0, 3);
        case GgmlType::Q3_K: return group_grid<BlockQ3_K>(row, i, -4, 3);
        case GgmlType::Q4_K: return group_grid<BlockQ4_K>(row, i, 0, 15);
        case GgmlType::Q5_K: return group_grid<BlockQ5_K>(row, i, 0, 31);
        case GgmlType::Q6_K: return group_grid<BlockQ6_K>(row, i, -32, 31);
        default: ADD_FAILURE() << "no grid"; return {};
    }
}

TEST(RoundTrip, EveryElementLandsOnItsNearestLevel) {
    constexpr int n = 1024;
    for (const auto& row : test::test_rows(n, 7)) {
        for (GgmlType type : test::kBlockTypes) {
            SCOPED_TRACE(std::string(type_name(type)) + " / " + row.name);
            std::vector<uint8_t> q(row_size(type, n));
            std::vector<float> y(n);
            quantize_row(type, row.values.data(), q.data(), n);
            dequantize_row(type, q.data(), y.data(), n);
            for (int i = 0; i < n; ++i) {
                const Grid g = grid_of(type, q.data(), i);
                const double x = row.values[i];
                const double err = std::fabs(x - y[i]);
                ASSERT_LE(err, nearest_level_distance(g, x) + g.slack)
                    << "element " << i << ": x = " << x << ", y = " << y[i] << ", step = " << g.step;
            }
        }
    }
}

TEST(RoundTrip, Q8_0ErrorIsAtMostHalfAStep) {
    // The bound the format promises: d = max|x| / 127 and |x - y| <= d / 2, plus what the
    // fp16 rounding of d adds over up to 127 steps.
    constexpr int n = 256;
    for (const auto& row : test::test_rows(n, 11)) {
        std::vector<BlockQ8_0> q(n / 32);
        std::vector<float> y(n);
        quantize_row(GgmlType::Q8_0, row.values.data(), q.data(), n);
        dequantize_row(GgmlType::Q8_0, q.data(), y.data(), n);
        for (int i = 0; i < n; ++i) {
            const double d = fp16_to_fp32(q[i / 32].d);
            EXPECT_LE(std::fabs(row.values[i] - y[i]), d / 2 + 127 * half_rounding(d)) << row.name << " " << i;
        }
    }
}

TEST(RoundTrip, ZeroBlocksStayZero) {
    const std::vector<float> zeros(256, 0.0f);
    for (GgmlType type : test::kBlockTypes) {
        std::vector<uint8_t> q(row_size(type, 256), 0xab);
        std::vector<float> y(256, 1.0f);
        quantize_row(type, zeros.data(), q.data(), 256);
        dequantize_row(type, q.data(), y.data(), 256);
        for (float v : y) ASSERT_EQ(v, 0.0f) << type_name(type);
    }
}

TEST(RoundTrip, NonFiniteInputIsRejected) {
    std::vector<float> x(256, 0.5f);
    std::vector<uint8_t> q(row_size(GgmlType::Q6_K, 256));
    for (float bad : {NAN, INFINITY, -INFINITY}) {
        x[100] = bad;
        for (GgmlType type : test::kBlockTypes) EXPECT_THROW(quantize_row(type, x.data(), q.data(), 256), Error);
    }
    // The float formats can hold them.
    std::vector<uint16_t> h(256);
    quantize_row(GgmlType::F16, x.data(), h.data(), 256);
    EXPECT_EQ(h[100], 0xfc00);
}

TEST(RoundTrip, BlocksOfFloatSubnormalsStayNearZero) {
    // Scales this small make 1 / d overflow to infinity, and 0 * inf is NaN: the quantizers
    // must still produce a valid block (all values decode to about zero).
    std::vector<float> x(256);
    for (int i = 0; i < 256; ++i) x[i] = (i % 3 - 1) * 1e-40f;
    for (GgmlType type : test::kBlockTypes) {
        std::vector<uint8_t> q(row_size(type, 256));
        std::vector<float> y(256);
        quantize_row(type, x.data(), q.data(), 256);
        dequantize_row(type, q.data(), y.data(), 256);
        for (float v : y) ASSERT_LE(std::fabs(v), 1e-6f) << type_name(type);
    }
}

TEST(RoundTrip, Q8_1StoresTheScaledSum) {
    const auto rows = test::test_rows(256, 5);
    const auto& x = rows[0].values;
    std::vector<BlockQ8_1> q(8);
    quantize_row(GgmlType::Q8_1, x.data(), q.data(), 256);
    for (const BlockQ8_1& b : q) {
        int sum = 0;
        for (int8_t v : b.qs) sum += v;
        // s = fp16(d_float * sum): within two fp16 roundings of d_fp16 * sum.
        const double expected = fp16_to_fp32(b.d) * sum;
        EXPECT_NEAR(fp16_to_fp32(b.s), expected, 2 * half_rounding(expected));
        EXPECT_NE(sum, 0);
    }
}

TEST(RoundTrip, Q8_KStoresGroupSums) {
    const auto rows = test::test_rows(512, 9);
    std::vector<BlockQ8_K> q(2);
    quantize_row(GgmlType::Q8_K, rows[2].values.data(), q.data(), 512);
    for (const BlockQ8_K& b : q) {
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += b.qs[16 * g + i];
            EXPECT_EQ(b.bsums[g], sum);
        }
    }
}

TEST(RoundTrip, FloatTypes) {
    const auto rows = test::test_rows(256, 3);
    for (const auto& row : rows) {
        std::vector<float> y(256);
        std::vector<uint16_t> h(256);
        quantize_row(GgmlType::F32, row.values.data(), y.data(), 256);
        EXPECT_EQ(std::memcmp(y.data(), row.values.data(), sizeof(float) * 256), 0);
        quantize_row(GgmlType::F16, row.values.data(), h.data(), 256);
        dequantize_row(GgmlType::F16, h.data(), y.data(), 256);
        for (int i = 0; i < 256; ++i) {
            const double x = row.values[i];
            // Normal halves: relative error 2^-11; subnormal ones: absolute 2^-25.
            EXPECT_LE(std::fabs(x - y[i]), half_rounding(x)) << row.name;
        }
        quantize_row(GgmlType::BF16, row.values.data(), h.data(), 256);
        dequantize_row(GgmlType::BF16, h.data(), y.data(), 256);
        for (int i = 0; i < 256; ++i) EXPECT_LE(std::fabs(row.values[i] - y[i]), std::fabs(row.values[i]) / 256);
    }
}

}  // namespace
}  // namespace natter
