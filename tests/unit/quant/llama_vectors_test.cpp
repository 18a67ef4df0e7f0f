// Against llama.cpp itself (tests/reference/kquant_vectors.txt, made by
// make_kquant_vectors.py through llama-cpp-python's libggml):
//  - our reference quantizers write the same bytes as llama.cpp's (ggml_quantize_chunk
//    without an imatrix, i.e. what its quantize tool writes; Q8_1 / Q8_K reference rows);
//  - our activation quantizer writes the same bytes as its x86 CPU backend;
//  - our dot products agree with its CPU backend's to float rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "quant/quant.h"
#include "vectors.h"

namespace natter {
namespace {

using test::type_of;

struct LlamaVectors {
    std::vector<std::vector<float>> rows;
    std::vector<std::vector<std::string>> lines;
};

const LlamaVectors& llama_vectors() {
    static const LlamaVectors v = [] {
        LlamaVectors result;
        for (auto& line : test::read_vector_file("kquant_vectors.txt")) {
            if (line[0] == "row") {
                result.rows.push_back(test::hex_values<float>(line[2]));
            } else {
                result.lines.push_back(std::move(line));
            }
        }
        return result;
    }();
    return v;
}


std::vector<uint8_t> ours(const std::string& kind, GgmlType type, const std::vector<float>& row) {
    const auto n = static_cast<int64_t>(row.size());
    std::vector<uint8_t> out(row_size(type, n));
    if (kind == "quant") {
        quantize_row(type, row.data(), out.data(), n);
    } else {
        quantize_activations(type, row.data(), out.data(), n);
    }
    return out;
}

// Checks every line of one kind ("quant" or "activation"); returns the types seen.
std::set<std::string> check_bytes(const std::string& kind) {
    std::set<std::string> types;
    for (const auto& line : llama_vectors().lines) {
        if (line[0] != kind) continue;
        const int row = std::stoi(line[2]);
        SCOPED_TRACE(kind + " " + line[1] + " row " + line[2]);
        const auto expected = test::hex_bytes(line[3]);
        const auto got = ours(kind, type_of(line[1]), llama_vectors().rows.at(row));
        EXPECT_EQ(got.size(), expected.size());
        size_t mismatches = 0, first = 0;
        for (size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
            if (got[i] != expected[i] && mismatches++ == 0) first = i;
        }
        EXPECT_EQ(mismatches, 0u) << "first differing byte " << first << " of " << got.size();
        types.insert(line[1]);
    }
    return types;
}

TEST(LlamaVectors, HasRealAndSyntheticRows) {
    ASSERT_EQ(llama_vectors().rows.size(), 7u);
    for (const auto& row : llama_vectors().rows) EXPECT_EQ(row.size(), 1536u);
}

TEST(LlamaVectors, ReferenceQuantizersAreByteIdentical) {
    const auto types = check_bytes("quant");
    const std::set<std::string> all = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                                       "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
    EXPECT_EQ(types, all);
}

TEST(LlamaVectors, ActivationQuantizersMatchTheCpuBackend) {
    const std::set<std::string> all = {"Q8_0", "Q8_1", "Q8_K"};
    EXPECT_EQ(check_bytes("activation"), all);
}

const std::vector<uint8_t>& stored(const std::string& kind, const std::string& type, int row);

TEST(LlamaVectors, TheTiesRowTellsTheTwoQ8RoundingsApart) {
    // Row 6 is made of exact rounding ties: there llama.cpp's reference and CPU-backend
    // quantizers differ, so the two checks above really pin down which rounding is used.
    for (const char* type : {"Q8_0", "Q8_1"}) {
        EXPECT_NE(stored("quant", type, 6), stored("activation", type, 6)) << type;
    }
}

const std::vector<uint8_t>& stored(const std::string& kind, const std::string& type, int row) {
    static std::map<std::string, std::vector<uint8_t>> cache;
    const std::string key = kind + " " + type + " " + std::to_string(row);
    if (!cache.count(key)) {
        for (const auto& line : llama_vectors().lines) {
            if (line[0] == kind && line[1] == type && std::stoi(line[2]) == row) cache[key] = test::hex_bytes(line[3]);
        }
    }
    return cache.at(key);
}

TEST(LlamaVectors, DotProductsMatchTheCpuBackend) {
    int checked = 0;
    for (const auto& line : llama_vectors().lines) {
        if (line[0] != "dot") continue;
        SCOPED_TRACE("dot " + line[1] + " weights row " + line[2] + " activations row " + line[3]);
        const GgmlType type = type_of(line[1]);
        const GgmlType act_type = traits(type).vec_dot_type;
        const auto& w = stored("quant", line[1], std::stoi(line[2]));
        const auto& a = stored("activation", std::string(type_name(act_type)), std::stoi(line[3]));
        const float expected = test::hex_values<float>(line[4]).at(0);
        const int64_t n = 1536;
        const float result = vec_dot(type, n, w.data(), a.data());

        // Both sides sum the same exact integer block sums; only the order and width of the
        // float accumulation differ (SIMD lanes, FMA). Bound by the size of the terms.
        std::vector<float> wd(n), ad(n);
        dequantize_row(type, w.data(), wd.data(), n);
        dequantize_row(act_type, a.data(), ad.data(), n);
        double magnitude = 0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * ad[i]);
        const double blocks = static_cast<double>(n) / traits(type).block_size;
        EXPECT_NEAR(result, expected, 4 * (blocks + 2) * 0x1p-24 * magnitude) << "magnitude " << magnitude;
        EXPECT_NE(expected, 0.0f);
        ++checked;
    }
    EXPECT_EQ(checked, 50);
}

}  // namespace
}  // namespace natter
