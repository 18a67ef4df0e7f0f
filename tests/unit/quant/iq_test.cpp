// The IQ and ternary formats against llama.cpp: the constant tables are its numbers
// (tests/reference/iq_tables.txt, FNV-1a of each table as ggml-common.h has it), every type
// dequantizes to its floats bit for bit, and IQ4_NL / IQ4_XS quantize to its bytes
// (tests/reference/iq_simd_vectors.txt, made by make_simd_vectors.py --iq).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/error.h"
#include "quant/iq_tables.h"
#include "quant/quant.h"
#include "unit/quant/vectors.h"

namespace natter {
namespace {

uint64_t fnv1a64(const void* data, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

TEST(IqTables, AreLlamaCppsNumbers) {
    struct Table {
        const void* data;
        size_t count;
        size_t element_size;
    };
    const std::map<std::string, Table> ours = {
        {"kIqSigns", {detail::kIqSigns, 128, 1}},         {"kIq2xxsGrid", {detail::kIq2xxsGrid, 256, 8}},
        {"kIq2xsGrid", {detail::kIq2xsGrid, 512, 8}},     {"kIq2sGrid", {detail::kIq2sGrid, 1024, 8}},
        {"kIq3xxsGrid", {detail::kIq3xxsGrid, 256, 4}},   {"kIq3sGrid", {detail::kIq3sGrid, 512, 4}},
        {"kIq1sGrid", {detail::kIq1sGrid, 2048, 8}},      {"kIq4nlValues", {detail::kIq4nlValues, 16, 1}},
    };
    int checked = 0;
    for (const auto& line : test::read_vector_file("iq_tables.txt")) {
        SCOPED_TRACE(line[0]);
        const Table& t = ours.at(line[0]);
        EXPECT_EQ(t.count, std::stoul(line[1]));
        EXPECT_EQ(fnv1a64(t.data, t.count * t.element_size), std::stoull(line[2], nullptr, 16));
        ++checked;
    }
    EXPECT_EQ(checked, 8);
}

// The sign table's rule, independent of the file: 7 stored bits, the eighth makes the
// number of negatives even.
TEST(IqTables, SignPatternsHaveEvenParity) {
    for (int i = 0; i < 128; ++i) {
        EXPECT_EQ(detail::kIqSigns[i] & 127, i);
        EXPECT_EQ(__builtin_popcount(detail::kIqSigns[i]) % 2, 0) << i;
    }
}

struct IqVectors {
    std::map<std::string, std::vector<uint8_t>> weights, quant;
    std::map<std::string, std::vector<float>> dequant, floats;
    int cols = 0;
};

const IqVectors& iq_vectors() {
    static const IqVectors v = [] {
        IqVectors r;
        for (const auto& line : test::read_vector_file("iq_simd_vectors.txt")) {
            if (line[0] == "weights") {
                r.weights[line[1]] = test::hex_bytes(line[4]);
                r.cols = std::stoi(line[3]);
            }
            if (line[0] == "quant") r.quant[line[1]] = test::hex_bytes(line[2]);
            if (line[0] == "dequant") r.dequant[line[1]] = test::hex_values<float>(line[2]);
            if (line[0] == "floats") r.floats[line[1]] = test::hex_values<float>(line[2]);
        }
        return r;
    }();
    return v;
}

TEST(IqFormats, DequantizeLikeLlamaCpp) {
    ASSERT_EQ(iq_vectors().dequant.size(), 11u);
    for (const auto& [name, expected] : iq_vectors().dequant) {
        const GgmlType type = type_from_name(name).value();
        const std::vector<uint8_t>& w = iq_vectors().weights.at(name);
        std::vector<float> got(expected.size());
        dequantize_row(type, w.data(), got.data(), static_cast<int64_t>(got.size()));
        size_t differing = 0;
        for (size_t i = 0; i < got.size(); ++i) differing += test::bits(got[i]) != test::bits(expected[i]);
        EXPECT_EQ(differing, 0u) << name;
    }
}

TEST(IqFormats, Iq4QuantizeToLlamaCppsBytes) {
    ASSERT_EQ(iq_vectors().quant.size(), 2u);
    for (const auto& [name, expected] : iq_vectors().quant) {
        const GgmlType type = type_from_name(name).value();
        const std::vector<float>& x = iq_vectors().floats.at(name);
        std::vector<uint8_t> got(expected.size());
        const int64_t cols = iq_vectors().cols;
        for (size_t r = 0; r < x.size() / cols; ++r) {
            quantize_row(type, x.data() + r * cols, got.data() + r * row_size(type, cols), cols);
        }
        EXPECT_EQ(got, expected) << name;
    }
}

// IQ2_XXS has no quantizer without an importance matrix (quantize_row_imatrix makes it).
TEST(IqFormats, Iq2XxsNeedsAnImportanceMatrix) {
    std::vector<float> x(256, 0.5f);
    std::vector<uint8_t> out(row_size(GgmlType::IQ2_XXS, 256));
    EXPECT_THROW(quantize_row(GgmlType::IQ2_XXS, x.data(), out.data(), 256), Error);
}

}  // namespace
}  // namespace natter
