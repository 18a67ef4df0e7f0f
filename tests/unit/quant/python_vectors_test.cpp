// Dequantization and quantization against the Python gguf package (an independent numpy
// implementation of the formats): tests/reference/quant_vectors.txt, made by
// make_quant_vectors.py. Equality is exact: both sides do the same float operations.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "quant/quant.h"
#include "vectors.h"

namespace natter {
namespace {

using test::type_of;

TEST(PythonVectors, DequantizeMatchesGgufExactly) {
    std::set<std::string> seen;
    for (const auto& line : test::read_vector_file("quant_vectors.txt")) {
        if (line[0] != "dequant") continue;
        SCOPED_TRACE(line[1]);
        const GgmlType type = type_of(line[1]);
        const auto blocks = test::hex_bytes(line[2]);
        const auto expected = test::hex_values<float>(line[3]);
        ASSERT_EQ(row_size(type, static_cast<int64_t>(expected.size())), blocks.size());
        std::vector<float> y(expected.size());
        dequantize_row(type, blocks.data(), y.data(), static_cast<int64_t>(y.size()));
        for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_EQ(test::bits(y[i]), test::bits(expected[i])) << "element " << i << ": " << y[i] << " vs " << expected[i];
        }
        seen.insert(line[1]);
    }
    EXPECT_EQ(seen.size(), 12u) << "every block type has vectors";
}

TEST(PythonVectors, QuantizeMatchesGgufExactly) {
    std::set<std::string> seen;
    for (const auto& line : test::read_vector_file("quant_vectors.txt")) {
        if (line[0] != "quant") continue;
        SCOPED_TRACE(line[1]);
        const GgmlType type = type_of(line[1]);
        const auto x = test::hex_values<float>(line[2]);
        const auto expected = test::hex_bytes(line[3]);
        const auto n = static_cast<int64_t>(x.size());
        std::vector<uint8_t> out(row_size(type, n));
        ASSERT_EQ(out.size(), expected.size());
        quantize_row(type, x.data(), out.data(), n);
        for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(int(out[i]), int(expected[i])) << "byte " << i;
        seen.insert(line[1]);
    }
    EXPECT_EQ(seen.size(), 7u);
}

}  // namespace
}  // namespace natter
