// The AVX2 kernels against llama.cpp's x86 CPU backend itself: tests/reference/simd_vectors.txt
// (made by make_simd_vectors.py through llama-cpp-python's libggml) holds what llama.cpp
// computes for random weight matrices of every type and 8 activation rows, in each of its
// summation orders; ours must be bit-identical, one float at a time. iq_simd_vectors.txt
// (make_simd_vectors.py --iq) does the same for the IQ and ternary types.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <string>

#include "inference/ops.h"
#include "quant/kernels.h"
#include "quant/quant.h"
#include "unit/quant/vectors.h"

namespace natter {
namespace {

struct Matrix {
    GgmlType type = GgmlType::F32;
    int rows = 0;
    int cols = 0;
    std::vector<uint8_t> bytes;

    WeightMatrix view() const {
        return WeightMatrix{type, cols, rows, bytes.size() / static_cast<size_t>(rows), bytes.data()};
    }
};

struct Vectors {
    int n_acts = 0;
    int cols = 0;
    std::vector<float> acts;  // [n_acts][cols]
    std::map<std::string, Matrix> weights;
    std::map<std::string, std::vector<float>> single, batch;   // [act row][weight row]
    std::map<std::string, std::vector<float>> repacked;         // key "TYPE/N"
    std::vector<std::vector<std::string>> other;                // f16dot, softmax, swiglu lines

    const float* act(int t) const { return acts.data() + static_cast<size_t>(t) * cols; }
};

Vectors read_vectors(const std::string& file) {
        Vectors r;
        for (auto& line : test::read_vector_file(file)) {
            const std::string& kind = line[0];
            if (kind == "acts") {
                r.n_acts = std::stoi(line[1]);
                r.cols = std::stoi(line[2]);
                r.acts = test::hex_values<float>(line[3]);
            } else if (kind == "weights") {
                r.weights[line[1]] = Matrix{type_from_name(line[1]).value(), std::stoi(line[2]), std::stoi(line[3]),
                                            test::hex_bytes(line[4])};
            } else if (kind == "single") {
                r.single[line[1]] = test::hex_values<float>(line[2]);
            } else if (kind == "batch") {
                r.batch[line[1]] = test::hex_values<float>(line[2]);
            } else if (kind == "repacked") {
                r.repacked[line[1] + "/" + line[2]] = test::hex_values<float>(line[3]);
            } else {
                r.other.push_back(std::move(line));
            }
        }
        return r;
}

const Vectors& vectors() {
    static const Vectors v = read_vectors("simd_vectors.txt");
    return v;
}

const Vectors& iq_vectors() {
    static const Vectors v = read_vectors("iq_simd_vectors.txt");
    return v;
}

const Kernels* avx2() { return avx2_kernels(); }

// Weight row r of m times activation row t, in `path`, with the AVX2 kernels.
float avx2_dot(const Vectors& v, const Matrix& m, DotPath path, int r, int t) {
    const GgmlType act_type = traits(m.type).vec_dot_type;
    std::vector<uint8_t> act(row_size(act_type, m.cols));
    avx2()->quantize_row(act_type)(v.act(t), act.data(), m.cols);
    const size_t row_bytes = m.bytes.size() / static_cast<size_t>(m.rows);
    return avx2()->vec_dot(m.type, path)(m.cols, m.bytes.data() + r * row_bytes, act.data());
}

// Counts results whose bits differ from llama.cpp's and reports the first.
void expect_bits(const std::vector<float>& expected, const std::vector<float>& got, const std::string& what) {
    ASSERT_EQ(expected.size(), got.size()) << what;
    size_t differing = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (test::bits(got[i]) == test::bits(expected[i])) continue;
        if (differing++ == 0) {
            ADD_FAILURE() << what << ": result " << i << " is " << got[i] << ", llama.cpp " << expected[i];
        }
    }
    EXPECT_EQ(differing, 0u) << what;
}

std::vector<float> avx2_results(const Vectors& v, const std::string& type, DotPath path, int n_acts) {
    const Matrix& m = v.weights.at(type);
    std::vector<float> out;
    for (int t = 0; t < n_acts; ++t) {
        for (int r = 0; r < m.rows; ++r) out.push_back(avx2_dot(v, m, path, r, t));
    }
    return out;
}
std::vector<float> avx2_results(const std::string& type, DotPath path, int n_acts) {
    return avx2_results(vectors(), type, path, n_acts);
}

// matmul of the vectors' matrices with one and with a batch of activation rows against
// llama.cpp's results for the path it takes: GEMV / GEMM for the repacked types, else
// vec_dot and the batch kernel.
void expect_matmul_like_llama_cpp(const Vectors& v, const std::vector<std::string>& repacked_types) {
    for (const auto& [type, m] : v.weights) {
        const bool repacked = std::find(repacked_types.begin(), repacked_types.end(), type) != repacked_types.end();
        std::vector<float> one(static_cast<size_t>(m.rows));
        matmul(m.view(), v.act(0), 1, one.data());
        const auto& single = repacked ? v.repacked.at(type + "/1") : v.single.at(type);
        expect_bits(std::vector<float>(single.begin(), single.begin() + m.rows), one, "matmul 1 row " + type);
        const int n = repacked ? 4 : v.n_acts;
        std::vector<float> many(static_cast<size_t>(m.rows) * n);
        matmul(m.view(), v.acts.data(), n, many.data());
        expect_bits(repacked ? v.repacked.at(type + "/4") : v.batch.at(type), many, "matmul batch " + type);
    }
}

class SimdVsLlamaCpp : public ::testing::Test {
protected:
    void SetUp() override {
        if (!avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
        ASSERT_EQ(vectors().weights.size(), 13u);
    }
};

TEST_F(SimdVsLlamaCpp, OneActivationRowLikeVecDot) {
    for (const auto& [type, expected] : vectors().single) {
        expect_bits(expected, avx2_results(type, DotPath::Vector, vectors().n_acts), "vec_dot " + type);
    }
}

// What ggml_mul_mat does with 8 rows on matrices it did not repack: tinyBLAS, the tiled
// k-quant kernel, or vec_dot row by row (Q4_1, Q5_1).
TEST_F(SimdVsLlamaCpp, BatchLikeTinyBlasAndTiled) {
    for (const auto& [type, expected] : vectors().batch) {
        const GgmlType t = type_from_name(type).value();
        DotPath path = DotPath::TinyBlas;
        if (t == GgmlType::Q4_1 || t == GgmlType::Q5_1) path = DotPath::Vector;
        if (type.ends_with("_K")) path = DotPath::Tiled;
        expect_bits(expected, avx2_results(type, path, vectors().n_acts), "batch " + type);
    }
}

TEST_F(SimdVsLlamaCpp, RepackedLikeGemvAndGemm) {
    for (const std::string type : {"Q4_0", "Q4_K"}) {
        expect_bits(vectors().repacked.at(type + "/1"), avx2_results(type, DotPath::Repacked, 1), "GEMV " + type);
        expect_bits(vectors().repacked.at(type + "/4"), avx2_results(type, DotPath::RepackedGemm, 4), "GEMM " + type);
    }
}

// matmul picks the order llama.cpp would: one row goes to vec_dot (GEMV if repacked), 8 rows
// to tinyBLAS / tiled, and a repacked matrix takes 4 rows through its GEMM.
TEST_F(SimdVsLlamaCpp, MatmulFollowsLlamaCppDispatch) {
    if (kernels().name != "avx2") GTEST_SKIP() << "NATTER_KERNELS selects " << kernels().name;
    expect_matmul_like_llama_cpp(vectors(), {"Q4_0", "Q4_K"});
}

class IqVsLlamaCpp : public ::testing::Test {
protected:
    void SetUp() override {
        if (!avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
        ASSERT_EQ(iq_vectors().weights.size(), 11u);
    }
};

TEST_F(IqVsLlamaCpp, OneActivationRowLikeVecDot) {
    for (const auto& [type, expected] : iq_vectors().single) {
        expect_bits(expected, avx2_results(iq_vectors(), type, DotPath::Vector, iq_vectors().n_acts), "vec_dot " + type);
    }
}

// 8 rows: tinyBLAS for IQ4_NL, vec_dot for the ternary types, the tiled kernel for the rest.
TEST_F(IqVsLlamaCpp, BatchLikeTinyBlasAndTiled) {
    for (const auto& [type, expected] : iq_vectors().batch) {
        DotPath path = DotPath::Tiled;
        if (type == "IQ4_NL") path = DotPath::TinyBlas;
        if (type.starts_with("TQ")) path = DotPath::Vector;
        expect_bits(expected, avx2_results(iq_vectors(), type, path, iq_vectors().n_acts), "batch " + type);
    }
}

TEST_F(IqVsLlamaCpp, RepackedLikeGemvAndGemm) {
    expect_bits(iq_vectors().repacked.at("IQ4_NL/1"), avx2_results(iq_vectors(), "IQ4_NL", DotPath::Repacked, 1), "GEMV");
    expect_bits(iq_vectors().repacked.at("IQ4_NL/4"), avx2_results(iq_vectors(), "IQ4_NL", DotPath::RepackedGemm, 4),
                "GEMM");
}

// IQ4_NL's vec_dot sums blocks in pairs and an odd last block apart (17 blocks here).
TEST_F(IqVsLlamaCpp, OddBlockCountLikeVecDot) {
    int seen = 0;
    for (const auto& line : iq_vectors().other) {
        if (line[0] != "oddblocks") continue;
        const int rows = std::stoi(line[2]), cols = std::stoi(line[3]);
        const std::vector<uint8_t> w = test::hex_bytes(line[4]);
        const std::vector<float> x = test::hex_values<float>(line[5]);
        std::vector<uint8_t> act(row_size(GgmlType::Q8_0, cols));
        avx2()->quantize_row(GgmlType::Q8_0)(x.data(), act.data(), cols);
        std::vector<float> got;
        for (int r = 0; r < rows; ++r) {
            got.push_back(avx2()->vec_dot(GgmlType::IQ4_NL, DotPath::Vector)(cols, w.data() + r * w.size() / rows, act.data()));
        }
        expect_bits(test::hex_values<float>(line[6]), got, "vec_dot IQ4_NL, 17 blocks");
        ++seen;
    }
    EXPECT_EQ(seen, 1);
}

TEST_F(IqVsLlamaCpp, MatmulFollowsLlamaCppDispatch) {
    if (kernels().name != "avx2") GTEST_SKIP() << "NATTER_KERNELS selects " << kernels().name;
    expect_matmul_like_llama_cpp(iq_vectors(), {"IQ4_NL"});
}

TEST_F(SimdVsLlamaCpp, HalfDotProducts) {
    int seen = 0;
    for (const auto& line : vectors().other) {
        if (line[0] != "f16dot") continue;
        const int n = std::stoi(line[1]);
        const auto x = test::hex_values<uint16_t>(line[2]);
        const auto y = test::hex_values<uint16_t>(line[3]);
        expect_bits(test::hex_values<float>(line[4]), {avx2()->dot_f16(n, x.data(), y.data())}, "f16dot n=" + line[1]);
        ++seen;
    }
    EXPECT_EQ(seen, 5);
}

TEST_F(SimdVsLlamaCpp, SoftmaxExponentials) {
    int seen = 0;
    for (const auto& line : vectors().other) {
        if (line[0] != "softmax") continue;
        const int n = std::stoi(line[1]);
        const auto x = test::hex_values<float>(line[2]);
        const float max = test::hex_values<float>(line[3])[0];
        std::vector<float> y(static_cast<size_t>(n));
        const double sum = avx2()->softmax_exp(n, y.data(), x.data(), max);
        expect_bits(test::hex_values<float>(line[4]), y, "softmax n=" + line[1]);
        EXPECT_EQ(std::bit_cast<uint64_t>(sum), test::hex_values<uint64_t>(line[5])[0]) << "softmax sum n=" << n;
        ++seen;
    }
    EXPECT_EQ(seen, 4);
}

TEST_F(SimdVsLlamaCpp, SwiGlu) {
    int seen = 0;
    for (const auto& line : vectors().other) {
        if (line[0] != "swiglu") continue;
        const int n = std::stoi(line[1]);
        const auto x = test::hex_values<float>(line[2]);
        const auto g = test::hex_values<float>(line[3]);
        std::vector<float> y(static_cast<size_t>(n));
        avx2()->swiglu(n, x.data(), g.data(), y.data());
        expect_bits(test::hex_values<float>(line[4]), y, "swiglu n=" + line[1]);
        ++seen;
    }
    EXPECT_EQ(seen, 3);
}

}  // namespace
}  // namespace natter
