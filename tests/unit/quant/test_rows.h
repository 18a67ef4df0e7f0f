#pragma once
// Test inputs shared by the round-trip and dot-product tests: float rows of different
// character, and the list of types.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "quant/types.h"

namespace natter::test {

inline const GgmlType kBlockTypes[] = {
    GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1,
    GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
};

inline const GgmlType kWeightTypes[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
    GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
};

struct Row {
    std::string name;
    std::vector<float> values;
};

// Rows of n values (n a multiple of 256): weight-like normals, all-positive values (the
// mins matter), heavy outliers, values so small their scales are fp16 subnormals, and
// rows with an all-zero and a constant super-block.
inline std::vector<Row> test_rows(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<Row> rows;
    auto make = [&](const std::string& name, auto&& value) {
        Row row{name, std::vector<float>(n)};
        for (int i = 0; i < n; ++i) row.values[i] = value(i);
        rows.push_back(std::move(row));
    };
    make("normal", [&](int) { return 0.02f * normal(rng); });
    make("positive", [&](int) { return 0.5f + uniform(rng); });
    make("outliers", [&](int i) { return i % 37 == 0 ? 8.0f * normal(rng) : 0.01f * normal(rng); });
    make("tiny", [&](int) { return 1e-6f * normal(rng); });
    make("zero_and_constant", [&](int i) { return i < 256 ? 0.0f : i < 512 ? -0.75f : normal(rng); });
    return rows;
}

}  // namespace natter::test
