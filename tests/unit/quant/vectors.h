#pragma once
// Reading the committed reference vectors (tests/reference/*.txt): one case per line,
// space-separated fields, hex for bytes and for little-endian float32 bit patterns.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "quant/types.h"

namespace natter::test {

inline std::vector<uint8_t> hex_bytes(const std::string& hex) {
    std::vector<uint8_t> bytes(hex.size() / 2);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return bytes;
}

template <typename T>
std::vector<T> hex_values(const std::string& hex) {
    const std::vector<uint8_t> bytes = hex_bytes(hex);
    std::vector<T> values(bytes.size() / sizeof(T));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
    return values;
}

// All lines of a vector file except comments, split into fields.
inline std::vector<std::vector<std::string>> read_vector_file(const std::string& name) {
    const std::string path = std::string(NATTER_REFERENCE_DIR) + "/" + name;
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::vector<std::vector<std::string>> lines;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::vector<std::string> row;
        for (std::string field; fields >> field;) row.push_back(field);
        lines.push_back(row);
    }
    return lines;
}

inline uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// A vector file's type name ("q4_K") as a type; a test failure (and F32) for an unknown one.
inline GgmlType type_of(const std::string& name) {
    const auto type = type_from_name(name);
    EXPECT_TRUE(type.has_value()) << name;
    return type.value_or(GgmlType::F32);
}

// How far fp16 rounding may move v: half an ulp relative for normal values (2^-11), and
// 2^-25 absolute below them (the subnormal step's half).
constexpr double kHalfEps = 1.0 / 2048;
inline double half_rounding(double v) { return std::max(std::fabs(v) * kHalfEps, 0x1p-25); }

}  // namespace natter::test
