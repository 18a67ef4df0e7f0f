// The tiled kernels (Kernels::tile_dot) against the one-output kernels they stand for, on
// random data: every output of a tile must have the bits of vec_dot on its weight row and
// activation row in the same order. Tile shapes with edges (rows and activation rows that do
// not fill a micro-tile) are included, and the output stride is wider than the tile.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/kernels.h"
#include "quant/packed.h"
#include "quant/quant.h"
#include "quant/simd_avx2_table.h"

namespace natter {
namespace {

struct Case {
    GgmlType type;
    DotPath path;
};

std::vector<float> random_floats(std::mt19937& rng, size_t n) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Quantized rows of `type`, `rows` rows of `cols` each.
std::vector<uint8_t> random_rows(std::mt19937& rng, GgmlType type, int rows, int64_t cols) {
    const size_t row_bytes = row_size(type, cols);
    std::vector<uint8_t> bytes(row_bytes * rows);
    for (int r = 0; r < rows; ++r) {
        const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols));
        quantize_row(type, x.data(), bytes.data() + r * row_bytes, cols);
    }
    return bytes;
}

// Returns the number of outputs whose bits differ from vec_dot's. packed: the tile reads the
// rows packed (quant/packed.h), vec_dot the file's rows.
int compare_tile(const Kernels& k, TileDotFn tile, const Case& c, int n_rows, int n_acts, int64_t cols, std::mt19937& rng,
                 bool packed = false) {
    const GgmlType act_type = traits(c.type).vec_dot_type;
    const size_t w_bytes = row_size(c.type, cols);
    const size_t a_bytes = row_size(act_type, cols);
    const std::vector<uint8_t> w = random_rows(rng, c.type, n_rows, cols);
    std::vector<uint8_t> act(a_bytes * n_acts);
    for (int a = 0; a < n_acts; ++a) {
        const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols));
        k.quantize_row(act_type)(x.data(), act.data() + a * a_bytes, cols);
    }
    const size_t out_stride = static_cast<size_t>(n_rows) + 5;
    std::vector<float> out(out_stride * n_acts, -1.0f);
    if (packed) {
        std::vector<uint8_t> rows(packed_row_bytes(c.type, cols) * n_rows);
        pack_rows(c.type, cols, w.data(), w_bytes, n_rows, rows.data());
        tile(cols, rows.data(), packed_row_bytes(c.type, cols), n_rows, act.data(), a_bytes, n_acts, out.data(), out_stride);
    } else {
        tile(cols, w.data(), w_bytes, n_rows, act.data(), a_bytes, n_acts, out.data(), out_stride);
    }
    const VecDotFn dot = k.vec_dot(c.type, c.path);
    int differing = 0;
    for (int a = 0; a < n_acts; ++a) {
        for (int r = 0; r < n_rows; ++r) {
            const float expected = dot(cols, w.data() + r * w_bytes, act.data() + a * a_bytes);
            const float got = out[a * out_stride + r];
            if (std::bit_cast<uint32_t>(expected) != std::bit_cast<uint32_t>(got)) {
                if (differing++ == 0) {
                    ADD_FAILURE() << type_name(c.type) << " path " << static_cast<int>(c.path) << " tile " << n_rows << "x"
                                  << n_acts << ": row " << r << " act " << a << " is " << got << ", vec_dot " << expected;
                }
            }
        }
        // Outside the tile nothing is written.
        for (size_t r = static_cast<size_t>(n_rows); r < out_stride; ++r) EXPECT_EQ(out[a * out_stride + r], -1.0f);
    }
    return differing;
}

class TileDot : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
        ASSERT_TRUE(avx2_kernels()->tile_dot(GetParam().type, GetParam().path)) << "the case list names a type and path without a tiled kernel";
    }
};

TEST_P(TileDot, EveryOutputAsVecDot) {
    std::mt19937 rng(1234 + static_cast<int>(GetParam().type) * 7 + static_cast<int>(GetParam().path));
    const int64_t cols = traits(GetParam().type).block_size == 256 ? 512 : 320;
    // Batches of 16+ activation rows take the 8-rows-as-lanes kernels where a type has them.
    const int shapes[][2] = {{1, 1}, {8, 1}, {19, 1}, {27, 3}, {16, 4}, {24, 9}, {33, 13}, {8, 16}, {27, 19}, {40, 22}};
    for (const auto& shape : shapes) {
        const Kernels& k = *avx2_kernels();
        EXPECT_EQ(compare_tile(k, k.tile_dot(GetParam().type, GetParam().path), GetParam(), shape[0], shape[1], cols, rng), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Types, TileDot,
                         ::testing::Values(Case{GgmlType::Q4_0, DotPath::TinyBlas}, Case{GgmlType::Q4_0, DotPath::Repacked},
                                           Case{GgmlType::Q4_0, DotPath::RepackedGemm},
                                           Case{GgmlType::Q4_1, DotPath::Vector}, Case{GgmlType::Q5_0, DotPath::TinyBlas},
                                           Case{GgmlType::Q5_1, DotPath::Vector}, Case{GgmlType::Q8_0, DotPath::Vector},
                                           Case{GgmlType::Q8_0, DotPath::TinyBlas}, Case{GgmlType::Q4_K, DotPath::Repacked},
                                           Case{GgmlType::Q4_K, DotPath::RepackedGemm},
                                           Case{GgmlType::Q6_K, DotPath::Tiled}, Case{GgmlType::Q6_K, DotPath::Vector}));

// Kernels with a 128-bit-halves form (for CPUs that split 256-bit operations) and a 256-bit
// form: whichever this CPU is given, both must be bit for bit the one-row kernel.
TEST(TileDotForms, HalvesAndFullWidthAsVecDot) {
    if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    std::mt19937 rng(4321);
    const int shapes[][2] = {{1, 1}, {4, 1}, {7, 1}, {41, 1}, {12, 2}, {9, 5}, {21, 7}};
    for (const Case c : {Case{GgmlType::Q4_1, DotPath::Vector}, Case{GgmlType::Q8_0, DotPath::Vector},
                         Case{GgmlType::Q8_0, DotPath::TinyBlas}}) {
        for (const bool halves : {false, true}) {
            const TileDotFn tile = detail::avx2_tile_dot_form(c.type, c.path, halves);
            ASSERT_NE(tile, nullptr);
            for (const auto& shape : shapes) {
                EXPECT_EQ(compare_tile(*avx2_kernels(), tile, c, shape[0], shape[1], 576, rng), 0)
                    << type_name(c.type) << (halves ? " halves" : " 256-bit");
            }
        }
    }
}

// Batch kernels with an AVX2 form and, for CPUs with AVX-512 VNNI, another (the k-quants and
// repacked Q4_0: 16 rows as the lanes of a ZMM vector; the 32-element block formats: two rows
// to a ZMM vector); both must be bit for bit the one-row kernel.
const Case kWideCases[] = {Case{GgmlType::Q4_K, DotPath::RepackedGemm}, Case{GgmlType::Q6_K, DotPath::Tiled},
                           Case{GgmlType::Q8_0, DotPath::TinyBlas}, Case{GgmlType::Q8_0, DotPath::Vector},
                           Case{GgmlType::Q4_0, DotPath::Repacked}, Case{GgmlType::Q4_0, DotPath::RepackedGemm},
                           Case{GgmlType::Q4_0, DotPath::TinyBlas},      Case{GgmlType::Q4_1, DotPath::Vector},
                           Case{GgmlType::Q5_0, DotPath::TinyBlas},      Case{GgmlType::Q5_1, DotPath::Vector}};
// The 16-row groups, an 8-row group and single rows after them; batches around the per-tile
// copy's threshold of 16 activation rows, and the block formats' micro-tiles of 4 weight rows
// x 8 then 4 activation rows, with weight rows and activation rows left over (shapes 3 to 6).
const int kWideShapes[][2] = {{16, 16}, {48, 17}, {24, 19}, {35, 22}, {16, 15}, {64, 24}, {4, 4}, {6, 13}};

TEST(TileDotForms, Avx2FormsAsVecDot) {
    if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    std::mt19937 rng(987);
    for (const Case c : kWideCases) {
        for (const auto& shape : kWideShapes) {
            EXPECT_EQ(compare_tile(*avx2_kernels(), detail::avx2_tile_dot_form(c.type, c.path, false), c, shape[0], shape[1],
                                   768, rng),
                      0)
                << type_name(c.type) << " AVX2 " << shape[0] << "x" << shape[1];
        }
    }
}

TEST(TileDotForms, Avx512FormsAsVecDot) {
    if (!avx2_kernels() || !detail::avx512_tile_dot_form(GgmlType::Q4_K, DotPath::RepackedGemm)) {
        GTEST_SKIP() << "this CPU has no AVX-512 F/BW/VL + VNNI (or NATTER_KERNELS=avx2 is set): the AVX-512 forms cannot run here";
    }
    std::mt19937 rng(789);
    for (const Case c : kWideCases) {
        const TileDotFn tile = detail::avx512_tile_dot_form(c.type, c.path);
        ASSERT_NE(tile, nullptr) << type_name(c.type);
        for (const auto& shape : kWideShapes) {
            EXPECT_EQ(compare_tile(*avx2_kernels(), tile, c, shape[0], shape[1], 768, rng), 0)
                << type_name(c.type) << " AVX-512 " << shape[0] << "x" << shape[1];
        }
    }
}

// Rows packed at load (quant/packed.h): each form of the packed tiles (AVX2's, and AVX-512's
// where this CPU runs it) bit for bit the one-row kernel on the file's rows, from one activation
// row (generation) to batches past the micro-tiles, with rows and activation rows left over.
TEST(PackedRows, TilesAsVecDotOnTheFileRows) {
    if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    std::mt19937 rng(2468);
    const int shapes[][2] = {{16, 1}, {32, 1}, {48, 2}, {16, 4}, {64, 9}, {32, 17}, {16, 24}};
    const bool wide_here = detail::packed_tile_dot_form(GgmlType::Q4_0, DotPath::Repacked, true) != nullptr;
    if (!wide_here) std::printf("note: no AVX-512 VNNI here: only the AVX2 packed tiles are checked\n");
    for (const Case c : {Case{GgmlType::Q4_0, DotPath::Repacked}, Case{GgmlType::Q4_0, DotPath::RepackedGemm},
                         Case{GgmlType::Q4_K, DotPath::Repacked}, Case{GgmlType::Q4_K, DotPath::RepackedGemm}}) {
        const int64_t cols = c.type == GgmlType::Q4_K ? 768 : 352;
        for (const bool wide : {false, true}) {
            const TileDotFn tile = detail::packed_tile_dot_form(c.type, c.path, wide);
            if (wide && !wide_here) continue;
            if (!wide && c.type == GgmlType::Q4_K) {  // no AVX2 form: such rows are not packed
                EXPECT_EQ(tile, nullptr);
                continue;
            }
            ASSERT_NE(tile, nullptr) << type_name(c.type);
            for (const auto& shape : shapes) {
                EXPECT_EQ(compare_tile(*avx2_kernels(), tile, c, shape[0], shape[1], cols, rng, true), 0)
                    << type_name(c.type) << " path " << static_cast<int>(c.path) << (wide ? " AVX-512 " : " AVX2 ") << shape[0]
                    << "x" << shape[1];
            }
        }
    }
    // The table hands out exactly these, and none for a type it does not pack.
    EXPECT_EQ(avx2_kernels()->packed_tile_dot(GgmlType::Q4_0, DotPath::Repacked),
              detail::packed_tile_dot_form(GgmlType::Q4_0, DotPath::Repacked, wide_here));
    EXPECT_EQ(avx2_kernels()->packed_tile_dot(GgmlType::Q4_1, DotPath::Vector), nullptr);
    EXPECT_EQ(reference_kernels().packed_tile_dot(GgmlType::Q4_0, DotPath::Repacked), nullptr);
}

// Block b of a weight row and an activation row, decoded here from the GGUF layout
// (independently of quant/): the weight's signed quants (the offset formats' unsigned ones),
// the activation's, d_w * d_a and, for the offset formats, m_w * s_a.
struct BlockTerms {
    int q[32], y[32];
    double d, offset;
};
BlockTerms block_terms(GgmlType type, const uint8_t* w, const uint8_t* act, int64_t b) {
    BlockTerms t{};
    const size_t w_bytes = row_size(type, 32), a_bytes = row_size(traits(type).vec_dot_type, 32);
    const uint8_t* x = w + b * w_bytes;
    const uint8_t* y = act + b * a_bytes;
    auto half = [](const uint8_t* p) { return double(fp16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8))); };
    const bool offsets = type == GgmlType::Q4_1 || type == GgmlType::Q5_1;
    t.d = half(x) * half(y);
    t.offset = offsets ? half(x + 2) * half(y + 2) : 0.0;
    for (int j = 0; j < 32; ++j) t.y[j] = static_cast<int8_t>(y[a_bytes - 32 + j]);
    const uint8_t* qs = x + (offsets ? 4 : 2);
    uint32_t qh = 0;
    if (type == GgmlType::Q5_0 || type == GgmlType::Q5_1) {
        std::memcpy(&qh, qs, 4);
        qs += 4;
    }
    for (int j = 0; j < 16; ++j) {
        if (type == GgmlType::Q8_0) {
            t.q[j] = static_cast<int8_t>(qs[j]);
            t.q[j + 16] = static_cast<int8_t>(qs[j + 16]);
            continue;
        }
        const int bias = type == GgmlType::Q5_0 ? 16 : 0;
        t.q[j] = ((qs[j] & 15) | ((qh >> j) & 1) << 4) - bias;
        t.q[j + 16] = ((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - bias;
    }
    return t;
}

// natter's fast batch order (--batch-order fast): the tile bit for bit as the portable
// fast_batch_dot on the 16-row groups, llama.cpp's order (vec_dot) on the rows after them; and
// both orders within float rounding of the exact dot product of the same integers and scales,
// summed in double.
TEST(FastBatchOrder, TilesAsFastBatchDotAndNearTheExactSum) {
    if (!fast_batch_tile(GgmlType::Q4_1)) GTEST_SKIP() << "no fast-order kernels on this CPU (they need AVX-512 F/BW/VL + VNNI)";
    std::mt19937 rng(2468);
    const int64_t cols = 576;
    for (const Case c : {Case{GgmlType::Q4_1, DotPath::Vector}, Case{GgmlType::Q5_0, DotPath::TinyBlas},
                         Case{GgmlType::Q5_1, DotPath::Vector}, Case{GgmlType::Q8_0, DotPath::TinyBlas}}) {
        const TileDotFn tile = fast_batch_tile(c.type);
        ASSERT_NE(tile, nullptr) << type_name(c.type);
        const GgmlType act_type = traits(c.type).vec_dot_type;
        const size_t w_bytes = row_size(c.type, cols), a_bytes = row_size(act_type, cols);
        for (const auto& shape : {std::array{16, 16}, std::array{35, 17}, std::array{48, 25}, std::array{16, 1}}) {
            const int n_rows = shape[0], n_acts = shape[1];
            const std::vector<uint8_t> w = random_rows(rng, c.type, n_rows, cols);
            std::vector<uint8_t> act(a_bytes * n_acts);
            for (int a = 0; a < n_acts; ++a) {
                const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols));
                avx2_kernels()->quantize_row(act_type)(x.data(), act.data() + a * a_bytes, cols);
            }
            const size_t os = static_cast<size_t>(n_rows) + 3;
            std::vector<float> out(os * n_acts, -1.0f);
            tile(cols, w.data(), w_bytes, n_rows, act.data(), a_bytes, n_acts, out.data(), os);
            const VecDotFn llama = avx2_kernels()->vec_dot(c.type, c.path);
            for (int a = 0; a < n_acts; ++a) {
                for (int r = 0; r < n_rows; ++r) {
                    const uint8_t* wr = w.data() + r * w_bytes;
                    const uint8_t* ar = act.data() + a * a_bytes;
                    const float fast = fast_batch_dot(c.type, cols, wr, ar);
                    const float want = r < n_rows / 16 * 16 ? fast : llama(cols, wr, ar);
                    ASSERT_EQ(std::bit_cast<uint32_t>(out[a * os + r]), std::bit_cast<uint32_t>(want))
                        << type_name(c.type) << " " << n_rows << "x" << n_acts << " row " << r << " act " << a << ": "
                        << out[a * os + r] << " vs " << want;
                    double exact = 0.0, magnitude = 0.0;
                    for (int64_t b = 0; b < cols / 32; ++b) {
                        const BlockTerms t = block_terms(c.type, wr, ar, b);
                        int sum = 0;
                        for (int j = 0; j < 32; ++j) sum += t.q[j] * t.y[j];
                        exact += t.d * sum + t.offset;
                        magnitude += std::abs(t.d * sum) + std::abs(t.offset);
                    }
                    EXPECT_NEAR(fast, exact, 1e-6 * magnitude) << type_name(c.type);
                    EXPECT_NEAR(llama(cols, wr, ar), exact, 1e-6 * magnitude) << type_name(c.type);
                }
            }
        }
    }
    EXPECT_EQ(fast_batch_tile(GgmlType::Q4_K), nullptr) << "a fast order without a test here";
}

// Attention's batched F16 products, many rows of the cache with one query at a time, on the
// halves and on the same halves widened to floats.
TEST(HalfDotRows, EveryRowAsTinyBlas) {
    std::vector<const Kernels*> tables = {&reference_kernels()};
    if (avx2_kernels()) tables.push_back(avx2_kernels());
    std::mt19937 rng(99);
    for (const Kernels* table : tables) {
        const Kernels& k = *table;
        for (const int n : {64, 256, 520}) {
            for (const int n_rows : {1, 7, 8, 21}) {
                const size_t stride = static_cast<size_t>(n) + 24;
                std::vector<uint16_t> x(stride * n_rows), y(static_cast<size_t>(n));
                const std::vector<float> xf = random_floats(rng, x.size()), yf = random_floats(rng, y.size());
                k.fp32_to_fp16_row(xf.data(), x.data(), static_cast<int64_t>(x.size()));
                k.fp32_to_fp16_row(yf.data(), y.data(), n);
                std::vector<float> x32(x.size()), y32(y.size());
                k.fp16_to_fp32_row(x.data(), x32.data(), static_cast<int64_t>(x.size()));
                k.fp16_to_fp32_row(y.data(), y32.data(), n);
                EXPECT_EQ(x32[5], fp16_to_fp32(x[5]));
                std::vector<float> out(static_cast<size_t>(n_rows)), widened(static_cast<size_t>(n_rows));
                k.dot_f16_batch_rows(n, x.data(), stride, n_rows, y.data(), out.data());
                k.dot_f16_batch_rows_widened(n, x32.data(), stride, n_rows, y32.data(), widened.data());
                for (int r = 0; r < n_rows; ++r) {
                    const float expected = k.dot_f16_batch(n, x.data() + r * stride, y.data());
                    EXPECT_EQ(std::bit_cast<uint32_t>(out[r]), std::bit_cast<uint32_t>(expected)) << k.name << " " << n << " " << r;
                    EXPECT_EQ(std::bit_cast<uint32_t>(widened[r]), std::bit_cast<uint32_t>(expected))
                        << k.name << " widened " << n << " " << r;
                    // One query row (generation): ggml_vec_dot_f16's order, y widened beforehand.
                    const float one = k.dot_f16(n, x.data() + r * stride, y.data());
                    EXPECT_EQ(std::bit_cast<uint32_t>(k.dot_f16_widened_y(n, x.data() + r * stride, y32.data())),
                              std::bit_cast<uint32_t>(one))
                        << k.name << " widened y " << n << " " << r;
                }
            }
        }
    }
}

// A lone query row against many K rows of the cache (generation): each output in
// ggml_vec_dot_f16's order, as the one-row kernel on the halves gives it. Rows in and past
// the groups of 8, head sizes with and without a tail after the 32-wide steps.
TEST(HalfDotRows, GenerationRowsAsOneRow) {
    std::vector<const Kernels*> tables = {&reference_kernels()};
    if (avx2_kernels()) tables.push_back(avx2_kernels());
    std::mt19937 rng(31);
    for (const Kernels* table : tables) {
        const Kernels& k = *table;
        for (const int n : {64, 96, 128, 256, 77}) {
            for (const int n_rows : {1, 8, 9, 16, 37}) {
                const size_t stride = static_cast<size_t>(n) * 3 + 8;  // K rows of a cache with several KV heads
                std::vector<uint16_t> x(stride * n_rows), y(static_cast<size_t>(n));
                const std::vector<float> xf = random_floats(rng, x.size()), yf = random_floats(rng, y.size());
                k.fp32_to_fp16_row(xf.data(), x.data(), static_cast<int64_t>(x.size()));
                k.fp32_to_fp16_row(yf.data(), y.data(), n);
                std::vector<float> y32(y.size());
                k.fp16_to_fp32_row(y.data(), y32.data(), n);
                std::vector<float> out(static_cast<size_t>(n_rows) + 1, -1.0f);
                k.dot_f16_rows_widened_y(n, x.data() + n, stride, n_rows, y32.data(), out.data());
                for (int r = 0; r < n_rows; ++r) {
                    const float expected = k.dot_f16(n, x.data() + n + r * stride, y.data());
                    EXPECT_EQ(std::bit_cast<uint32_t>(out[r]), std::bit_cast<uint32_t>(expected))
                        << k.name << " n=" << n << " rows=" << n_rows << " row " << r;
                }
                EXPECT_EQ(out[n_rows], -1.0f) << k.name << ": written past the rows";
            }
        }
    }
}

// ggml_vec_dot_f16 with y widened beforehand, on lengths with a tail after the 32-wide steps.
TEST(HalfDotRows, OneRowWithWidenedQuery) {
    std::vector<const Kernels*> tables = {&reference_kernels()};
    if (avx2_kernels()) tables.push_back(avx2_kernels());
    std::mt19937 rng(7);
    for (const Kernels* table : tables) {
        for (const int n : {1, 31, 77, 130}) {
            std::vector<uint16_t> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
            const std::vector<float> xf = random_floats(rng, x.size()), yf = random_floats(rng, y.size());
            table->fp32_to_fp16_row(xf.data(), x.data(), n);
            table->fp32_to_fp16_row(yf.data(), y.data(), n);
            std::vector<float> y32(y.size());
            table->fp16_to_fp32_row(y.data(), y32.data(), n);
            EXPECT_EQ(std::bit_cast<uint32_t>(table->dot_f16_widened_y(n, x.data(), y32.data())),
                      std::bit_cast<uint32_t>(table->dot_f16(n, x.data(), y.data())))
                << table->name << " n=" << n;
            // Both widened (a K row widened once for its group of query heads).
            std::vector<float> x32(x.size());
            table->fp16_to_fp32_row(x.data(), x32.data(), n);
            EXPECT_EQ(std::bit_cast<uint32_t>(table->dot_f16_widened(n, x32.data(), y32.data())),
                      std::bit_cast<uint32_t>(table->dot_f16(n, x.data(), y.data())))
                << table->name << " both widened n=" << n;
            // Flash attention's F16 accumulator, the value row widened beforehand.
            std::vector<uint16_t> acc(y), acc_widened(y);
            table->mad_f16(n, acc.data(), x.data(), 0.37f);
            table->mad_f16_widened(n, acc_widened.data(), x32.data(), 0.37f);
            EXPECT_EQ(acc, acc_widened) << table->name << " mad_f16 n=" << n;
        }
    }
}

// Flash attention's tiled GEMM, both forms (AVX2; AVX-512 where this CPU has it), against the
// portable one (each output a chain of std::fma in order of k), bit for bit: shapes with edge
// rows and columns and row strides wider than the matrices, C not zero to start with.
TEST(GemmF32Fma, BothFormsAreTheFmaChainInOrderOfK) {
    if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    const bool wide_here = detail::gemm_f32_fma_form(true) != detail::gemm_f32_fma_form(false);
    if (!wide_here) std::printf("note: no AVX-512 VNNI here: only the AVX2 form is checked\n");
    std::mt19937 rng(11);
    for (const bool wide : {false, true}) {
        if (wide && !wide_here) continue;
        const detail::GemmF32Fn gemm = detail::gemm_f32_fma_form(wide);
        for (const std::array<int, 3> shape : {std::array{63, 64, 64}, {64, 64, 64}, {1, 64, 64}, {7, 17, 5}, {13, 64, 80},
                                               {5, 3, 96}, {6, 1, 33}, {11, 40, 16}}) {
            const auto [m, k, n] = shape;
            const size_t lda = static_cast<size_t>(k) + 3, ldb = static_cast<size_t>(n) + 5, ldc = static_cast<size_t>(n) + 2;
            const std::vector<float> a = random_floats(rng, m * lda), b = random_floats(rng, k * ldb);
            std::vector<float> c = random_floats(rng, m * ldc);
            std::vector<float> expected = c;
            reference_kernels().gemm_f32_fma(m, k, n, a.data(), lda, b.data(), ldb, expected.data(), ldc);
            gemm(m, k, n, a.data(), lda, b.data(), ldb, c.data(), ldc);
            for (size_t i = 0; i < c.size(); ++i) {  // the padding past n too: left as it was
                ASSERT_EQ(std::bit_cast<uint32_t>(c[i]), std::bit_cast<uint32_t>(expected[i]))
                    << (wide ? "AVX-512" : "AVX2") << " m=" << m << " k=" << k << " n=" << n << " at " << i / ldc << ","
                    << i % ldc;
            }
        }
    }
}

// The tiled kernels exist where the forward pass spends its time.
TEST(TileDotTable, CoversTheBenchmarkFormats) {
    if (!avx2_kernels()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
    EXPECT_NE(avx2_kernels()->tile_dot(GgmlType::Q4_1, DotPath::Vector), nullptr);
    EXPECT_NE(avx2_kernels()->tile_dot(GgmlType::Q8_0, DotPath::TinyBlas), nullptr);
    EXPECT_NE(avx2_kernels()->tile_dot(GgmlType::Q4_0, DotPath::RepackedGemm), nullptr);
    EXPECT_EQ(reference_kernels().tile_dot(GgmlType::Q8_0, DotPath::TinyBlas), nullptr);
}

}  // namespace
}  // namespace natter
