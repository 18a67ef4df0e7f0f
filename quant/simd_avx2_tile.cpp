// Tiles of dot products (TileDotFn in quant/kernels.h): several weight rows times several
// activation rows per call, so that a weight block unpacked into a register serves every
// activation row of the tile and an activation block loaded once serves every weight row.
// Each output keeps its own accumulators and goes through exactly the operations, in the
// same order, of the one-output kernel it stands for (simd_avx2_quant.cpp); only the
// interleaving of independent outputs changes, so every result is bit for bit the same.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "quant/blocks.h"
#include "quant/packed.h"
#include "quant/simd_avx2.h"
#include "quant/simd_rows8.h"

namespace natter::avx2 {
namespace {

// Blocks ahead that each weight row is prefetched: several rows far apart are more streams
// than the hardware prefetcher follows well (128 blocks: best of 24..256 on Zen2 at tg128).
constexpr int kPrefetchBlocks = 128;

template <typename Block>
const Block& block_at(const void* rows, size_t stride, int r, int64_t b) {
    return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(rows) + r * stride)[b];
}

// R weight rows x A activation rows of a 32-element block format, as dot_with_q8_0 (signed
// quants, Q8_0 activations) or dot_with_q8_1 (unsigned quants plus offsets, Q8_1) sums each:
// per block acc = fma(d_w * d_a, lanes, acc), offsets = fma(m_w, s_a, offsets); at the end
// hsum8(acc) (+ offsets). The signed product |q_w| * (q_a with q_w's sign) is the one
// dot_i8 forms; |q_w| is taken once per weight block instead of once per output. The block
// scales come as floats (TileScales): wd/wm row by row (wd[r * nb + b]), ad/as block by block
// for the A activation rows (ad[b * A + a]), so that the A products d_w * d_a of a weight row
// are one vector multiply.
template <typename Block, typename Act, __m256i (*Quants)(const Block&), int R, int A>
void block_micro(int64_t nb, const void* w, size_t ws, const void* act, size_t as, const float* wd, const float* wm,
                 const float* ad, const float* a_s, float* out, size_t os) {
    constexpr bool kOffsets = std::is_same_v<Act, BlockQ8_1>;
    // The offsets of A == 4 activation rows as one vector per weight row (lane a: row a's
    // scalar sum, fma by fma), else as scalars.
    constexpr bool kOffsetVectors = kOffsets && A == 4;
    __m256 acc[R][A];
    float offsets[R][A];
    __m128 offset4[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        offset4[r] = _mm_setzero_ps();
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) {
            acc[r][a] = _mm256_setzero_ps();
            offsets[r][a] = 0.0f;
        }
    }
    for (int64_t b = 0; b < nb; ++b) {
        alignas(16) float d[R][A];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            if constexpr (A == 4) {
                _mm_store_ps(d[r], _mm_mul_ps(_mm_broadcast_ss(&wd[r * nb + b]), _mm_loadu_ps(&ad[b * A])));
            } else {
                for (int a = 0; a < A; ++a) d[r][a] = wd[r * nb + b] * ad[b * A + a];
            }
            if constexpr (kOffsetVectors) {
                offset4[r] = _mm_fmadd_ps(_mm_broadcast_ss(&wm[r * nb + b]), _mm_loadu_ps(&a_s[b * A]), offset4[r]);
            } else if constexpr (kOffsets) {
                for (int a = 0; a < A; ++a) offsets[r][a] = std::fma(wm[r * nb + b], a_s[b * A + a], offsets[r][a]);
            }
        }
        __m256i unsigned_q[R], signs[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const Block& x = block_at<Block>(w, ws, r, b);
            _mm_prefetch(reinterpret_cast<const char*>(&x + kPrefetchBlocks), _MM_HINT_T0);
            const __m256i q = Quants(x);
            if constexpr (kOffsets) {
                unsigned_q[r] = q;
            } else {
                unsigned_q[r] = _mm256_sign_epi8(q, q);
                signs[r] = q;
            }
        }
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) {
            const __m256i qa = load32(block_at<Act>(act, as, a, b).qs);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const __m256i lanes =
                    kOffsets ? dot_u8_i8(unsigned_q[r], qa) : dot_u8_i8(unsigned_q[r], _mm256_sign_epi8(qa, signs[r]));
                acc[r][a] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[r][a]), _mm256_cvtepi32_ps(lanes), acc[r][a]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        if constexpr (kOffsetVectors) _mm_storeu_ps(offsets[r], offset4[r]);
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) {
            float sum = hsum8(acc[r][a]);
            if constexpr (kOffsets) sum = sum + offsets[r][a];
            out[a * os + r] = sum;
        }
    }
}

// The block scales of a tile as floats, each converted once (see block_micro).
struct TileScales {
    std::vector<float> wd, wm, ad, as;

    template <typename Block>
    void weights(int64_t nb, const void* w, size_t ws, int n_rows) {
        wd.resize(static_cast<size_t>(n_rows * nb));
        wm.resize(static_cast<size_t>(n_rows * nb));
        for (int r = 0; r < n_rows; ++r) {
            for (int64_t b = 0; b < nb; ++b) {
                const Block& x = block_at<Block>(w, ws, r, b);
                wd[r * nb + b] = half_to_float(x.d);
                if constexpr (std::is_same_v<Block, BlockQ4_1> || std::is_same_v<Block, BlockQ5_1>) {
                    wm[r * nb + b] = half_to_float(x.m);
                }
            }
        }
    }
    // n consecutive activation rows, interleaved block by block.
    template <typename Act>
    void acts(int64_t nb, const void* act, size_t as_bytes, int n) {
        ad.resize(static_cast<size_t>(n * nb));
        as.resize(static_cast<size_t>(n * nb));
        for (int a = 0; a < n; ++a) {
            for (int64_t b = 0; b < nb; ++b) {
                const Act& y = block_at<Act>(act, as_bytes, a, b);
                ad[b * n + a] = half_to_float(y.d);
                if constexpr (std::is_same_v<Act, BlockQ8_1>) as[b * n + a] = half_to_float(y.s);
            }
        }
    }
};

// The whole n_rows x n_acts tile in micro-tiles of R x A, then 1 x A and 1 x 1 at the edges.
// Activation rows outermost: A of them stay in L1 while the weight rows stream past.
template <typename Block, typename Act, __m256i (*Quants)(const Block&)>
void block_tile(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out,
                size_t os) {
    constexpr int R = 2, A = 4;
    const int64_t nb = n / Block::elements;
    auto wrow = [&](int r) { return static_cast<const uint8_t*>(w) + r * ws; };
    auto arow = [&](int a) { return static_cast<const uint8_t*>(act) + a * as; };
    thread_local TileScales sc;
    sc.weights<Block>(nb, w, ws, n_rows);
    // The micro-tile of weight rows [r, r + RR) and activation rows [a, a + AA).
    auto micro = [&]<int RR, int AA>(int r, int a) {
        block_micro<Block, Act, Quants, RR, AA>(nb, wrow(r), ws, arow(a), as, sc.wd.data() + r * nb, sc.wm.data() + r * nb,
                                                sc.ad.data(), sc.as.data(), out + a * os + r, os);
    };
    int a = 0;
    for (; a + A <= n_acts; a += A) {
        sc.acts<Act>(nb, arow(a), as, A);
        int r = 0;
        for (; r + R <= n_rows; r += R) micro.template operator()<R, A>(r, a);
        for (; r < n_rows; ++r) micro.template operator()<1, A>(r, a);
    }
    for (; a < n_acts; ++a) {
        sc.acts<Act>(nb, arow(a), as, 1);
        for (int r = 0; r < n_rows; ++r) micro.template operator()<1, 1>(r, a);
    }
}

// 8 weight rows of Q4_0 x A activation rows in the repacked GEMV/GEMM order, where each
// output is a scalar acc = fma(block integer sum, d_w * d_a, acc): the 8 rows are the 8
// lanes of one vector, as in llama.cpp's own 8-row kernel, lane for lane the scalar steps.
// The 8 rows' quant bytes are transposed in registers so that 32-bit lane r of vector k
// holds bytes 4k..4k+3 of row r (elements 4k..4k+3 in the low nibbles, 16+4k.. in the high
// ones); one maddubs with those 4 elements of an activation row broadcast to every lane then
// forms products of all 8 rows, each staying in its own lanes, so the block sums need no
// horizontal adds. The unsigned nibbles give sum q * y; sum (q - 8) * y is that minus
// 8 * sum y, exact in int32 (int16 lanes hold at most 16 products of 15 * 127).
// The 8 rows read in place (transposed in registers), or half h of a group of 16 rows packed
// at load (quant/packed.h), already in that order.
struct InPlaceRows8 {
    const void* w;
    size_t ws;
    simd::Q4_0Rows8 load(int64_t b) const {
        const BlockQ4_0* x[8];
        for (int r = 0; r < 8; ++r) {
            x[r] = &block_at<BlockQ4_0>(w, ws, r, b);
            _mm_prefetch(reinterpret_cast<const char*>(x[r]) + kRows8PrefetchBytes, _MM_HINT_T0);
        }
        return simd::load_q4_0_rows8(x);
    }
};
struct PackedRows8 {
    const PackedQ4_0* p;
    int h;
    int prefetch;  // how far ahead (the first half's pass; 0: none)
    simd::Q4_0Rows8 load(int64_t b) const {
        if (prefetch != 0) {
            const char* next = reinterpret_cast<const char*>(&p[b]) + prefetch;
            for (int off = 0; off < static_cast<int>(sizeof(PackedQ4_0)) + 63; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
        }
        simd::Q4_0Rows8 rows;
        for (int k = 0; k < 4; ++k) rows.groups[k] = load32(p[b].q[k] + 32 * h);
        rows.d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p[b].d + 8 * h)));
        return rows;
    }
};

template <int A, typename Rows>
void q4_0_repacked_micro(int64_t nb, Rows src, const void* act, size_t as, const int32_t* y_sums, size_t sums_stride, float* out,
                         size_t os) {
    __m256 acc[A];
    for (int a = 0; a < A; ++a) acc[a] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t b = 0; b < nb; ++b) {
        const simd::Q4_0Rows8 rows = src.load(b);
        const __m256i* groups = rows.groups;
        const __m256 dw = rows.d;
        __m256i pairs[A];
        for (int a = 0; a < A; ++a) pairs[a] = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            const __m256i lo = _mm256_and_si256(groups[k], m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(groups[k], 4), m4);
            for (int a = 0; a < A; ++a) {
                const BlockQ8_0& y = block_at<BlockQ8_0>(act, as, a, b);
                pairs[a] = _mm256_add_epi16(pairs[a], _mm256_maddubs_epi16(lo, broadcast4(y.qs + 4 * k)));
                pairs[a] = _mm256_add_epi16(pairs[a], _mm256_maddubs_epi16(hi, broadcast4(y.qs + 16 + 4 * k)));
            }
        }
        for (int a = 0; a < A; ++a) {
            const BlockQ8_0& y = block_at<BlockQ8_0>(act, as, a, b);
            const __m256i sums = _mm256_sub_epi32(_mm256_madd_epi16(pairs[a], _mm256_set1_epi16(1)),
                                                  _mm256_set1_epi32(8 * y_sums[a * sums_stride + b]));
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(half_to_float(y.d)));
            acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), d, acc[a]);
        }
    }
    for (int a = 0; a < A; ++a) _mm256_storeu_ps(out + a * os, acc[a]);
}

}  // namespace

// sums[b] = the sum of the quants of Q8_0 block b of an activation row.
void q8_0_block_sums(int64_t nb, const void* act, int32_t* sums) {
    const auto* y = static_cast<const BlockQ8_0*>(act);
    for (int64_t b = 0; b < nb; ++b) {
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), load32(y[b].qs));
        sums[b] = hsum8_i32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
}

void tile_q4_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    block_tile<BlockQ4_0, BlockQ8_0, q4_0_quants>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
// Activation rows in groups of 4 through the micro-tiles, any rest one at a time through the
// generation kernel (four weight rows at a time).
template <typename Block, typename Act, __m256i (*Quants)(const Block&),
          void (*Gemv)(int64_t, const void*, size_t, int, const void*, float*)>
void tile_with_gemv(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os) {
    const int grouped = n_acts - n_acts % 4;
    if (grouped > 0) block_tile<Block, Act, Quants>(n, w, ws, n_rows, a, as, grouped, out, os);
    for (int i = grouped; i < n_acts; ++i) Gemv(n, w, ws, n_rows, static_cast<const uint8_t*>(a) + i * as, out + i * os);
}

void tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    tile_with_gemv<BlockQ8_0, BlockQ8_0, q8_0_quants, gemv_q8_0<false>>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q8_0_halves(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os) {
    tile_with_gemv<BlockQ8_0, BlockQ8_0, q8_0_quants, gemv_q8_0<true>>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    tile_with_gemv<BlockQ4_1, BlockQ8_1, q4_1_quants, gemv_q4_1<false>>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q4_1_halves(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os) {
    tile_with_gemv<BlockQ4_1, BlockQ8_1, q4_1_quants, gemv_q4_1<true>>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    tile_with_gemv<BlockQ5_0, BlockQ8_0, q5_0_quants, gemv_q5_0>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    tile_with_gemv<BlockQ5_1, BlockQ8_1, q5_1_quants, gemv_q5_1>(n, w, ws, n_rows, a, as, n_acts, out, os);
}

namespace {

// Rows [0, n_rows8) in groups of 8 (group r's rows from rows_at(r)), 4 activation rows at a time.
template <typename RowsAt>
void q4_0_rows8_groups(int64_t n, int n_rows8, RowsAt rows_at, const void* act, size_t as, int n_acts, float* out,
                       size_t os) {
    constexpr int A = 4;
    const int64_t nb = n / QK4_0;
    auto arow = [&](int a) { return static_cast<const uint8_t*>(act) + a * as; };
    thread_local std::vector<int32_t> y_sums;
    y_sums.resize(static_cast<size_t>(A * nb));
    for (int a = 0; a < n_acts; a += A) {
        const int n_here = std::min(A, n_acts - a);
        for (int i = 0; i < n_here; ++i) q8_0_block_sums(nb, arow(a + i), &y_sums[i * nb]);
        for (int r = 0; r < n_rows8; r += 8) {
            if (n_here == A) {
                q4_0_repacked_micro<A>(nb, rows_at(r), arow(a), as, y_sums.data(), nb, out + a * os + r, os);
            } else {
                for (int i = 0; i < n_here; ++i) {
                    q4_0_repacked_micro<1>(nb, rows_at(r), arow(a + i), as, &y_sums[i * nb], nb, out + (a + i) * os + r, os);
                }
            }
        }
    }
}

}  // namespace

// Rows in groups of 8 (llama.cpp repacks only matrices whose rows are a multiple of 8);
// any rest one row at a time with the one-output kernel.
void tile_q4_0_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts,
                        float* out, size_t os) {
    auto wrow = [&](int r) { return static_cast<const uint8_t*>(w) + r * ws; };
    const int rows8 = n_rows - n_rows % 8;
    q4_0_rows8_groups(n, rows8, [&](int r) { return InPlaceRows8{wrow(r), ws}; }, act, as, n_acts, out, os);
    for (int i = 0; i < n_acts; ++i) {
        const void* y = static_cast<const uint8_t*>(act) + i * as;
        for (int r = rows8; r < n_rows; ++r) out[i * os + r] = vec_dot_q4_0_repacked(n, wrow(r), y);
    }
}

void tile_q4_0_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out,
                      size_t os) {
    auto rows_at = [&](int r) {
        const auto* group = reinterpret_cast<const PackedQ4_0*>(static_cast<const uint8_t*>(w) + (r - r % 16) * ws);
        return PackedRows8{group, r % 16 / 8, r % 16 == 0 ? kPackedPrefetchBytes : 0};
    };
    q4_0_rows8_groups(n, n_rows, rows_at, act, as, n_acts, out, os);
}

}  // namespace natter::avx2
