// Token generation on the formats whose one-row kernel llama.cpp runs for every weight row
// (no repacking: Q4_1, Q5_0, Q5_1, Q8_0): one activation row times the weight rows in groups
// of four.
// Each output keeps the steps of its one-row kernel (simd_avx2_quant.cpp) exactly: per block the same
// integer lane sums, acc = fma(d_w * d_a, lanes, acc) in block order, and at the end hsum8(acc)
// (+ the offsets). What the four rows share is done once: the activation block is loaded
// once, the activation scales are converted once per call, and the four rows' scales are
// converted together in one F16C instruction.
//
// Two forms of the same arithmetic. On CPUs that split every 256-bit operation into two
// 128-bit halves (AMD Zen 1, Zen+), the lanes are kept as two 128-bit halves, which saves the
// 128-to-256-bit inserts and broadcasts that cost a full operation there (Q4_1 in L2, one
// core: 3.1 ns per row block against 3.9 for the 256-bit form and 5.0 for the one-row kernel).
// Elsewhere (and for Q5_0 / Q5_1, whose fifth bits are spread over 32 bytes at once) the
// 256-bit form, one template for every format (signed quants met with Q8_0, or unsigned ones
// with an offset met with Q8_1). Lanes 0-3 and 4-7 of the 256-bit accumulator are exactly the
// low and high halves, so both give the same bits.
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "quant/blocks.h"
#include "quant/simd_avx2.h"

namespace natter::avx2 {
namespace {

// Weight rows are prefetched two groups of four ahead, as one sequential stream. (Prefetching
// each row a fixed distance ahead makes four streams, which memory serves worse: one core,
// Q8_0 rows of 2048 from memory, 4.6 ns per row block at 1.25 KiB ahead, 3.6 with this.)
constexpr int kGroupsAhead = 2;

// Prefetches the four rows kGroupsAhead groups further on, cache line by cache line at the
// pace at which the current four are read: one sequential stream, however wide the rows.
class GroupPrefetch {
public:
    // Addresses as integers: past the last rows they point beyond the matrix (a prefetch
    // never faults).
    GroupPrefetch(const uint8_t* group, size_t row_bytes, int64_t steps)
        : start_(reinterpret_cast<uintptr_t>(group) + kGroupsAhead * 4 * row_bytes),
          next_(start_),
          per_step_((4 * row_bytes + static_cast<size_t>(steps) - 1) / static_cast<size_t>(steps)) {}
    void step(int64_t b) {
        const uintptr_t until = start_ + static_cast<size_t>(b + 1) * per_step_;
        for (; next_ < until; next_ += 64) _mm_prefetch(reinterpret_cast<const char*>(next_), _MM_HINT_T0);
    }

private:
    uintptr_t start_;
    uintptr_t next_;
    size_t per_step_;
};

// hsum8 of the 8 lanes held as two halves (lo = lanes 0-3, hi = lanes 4-7).
inline float hsum8_halves(__m128 lo, __m128 hi) {
    __m128 r = _mm_add_ps(hi, lo);
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// out[r] = lane r of v in every lane, as 128-bit or 256-bit vectors.
inline void each_lane(__m128 v, __m128 out[4]) {
    out[0] = _mm_shuffle_ps(v, v, 0x00);
    out[1] = _mm_shuffle_ps(v, v, 0x55);
    out[2] = _mm_shuffle_ps(v, v, 0xaa);
    out[3] = _mm_shuffle_ps(v, v, 0xff);
}
inline void each_lane(__m128 v, __m256 out[4]) {
    const __m256 vv = _mm256_set_m128(v, v);
    out[0] = _mm256_shuffle_ps(vv, vv, 0x00);
    out[1] = _mm256_shuffle_ps(vv, vv, 0x55);
    out[2] = _mm256_shuffle_ps(vv, vv, 0xaa);
    out[3] = _mm256_shuffle_ps(vv, vv, 0xff);
}

// Four weight rows, ws bytes apart, as block arrays.
template <typename Block>
struct Rows4 {
    Rows4(const uint8_t* w, size_t ws) {
        for (int r = 0; r < 4; ++r) row[r] = reinterpret_cast<const Block*>(w + r * ws);
    }
    const Block* operator[](int r) const { return row[r]; }
    const Block* row[4];
};

// Block b of four rows of a format with an offset (Q4_1 and Q5_1 blocks start with d, m):
// returns d_w * d_a per row and adds m_w * s_a to offsets, both rows' scales converted at once.
template <typename Block>
inline __m128 offset_scales(const Rows4<Block>& x, int64_t b, const float* da, const float* sa, __m128& offsets) {
    int32_t dm[4];
    for (int r = 0; r < 4; ++r) std::memcpy(&dm[r], &x[r][b], sizeof(int32_t));
    const __m256 f = _mm256_cvtph_ps(_mm_setr_epi32(dm[0], dm[1], dm[2], dm[3]));  // d0 m0 d1 m1 | d2 m2 d3 m3
    const __m128 lo = _mm256_castps256_ps128(f), hi = _mm256_extractf128_ps(f, 1);
    const __m128 dw = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    const __m128 mw = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    offsets = _mm_fmadd_ps(mw, _mm_broadcast_ss(&sa[b]), offsets);
    return _mm_mul_ps(dw, _mm_broadcast_ss(&da[b]));
}

// The scales d_w of block b of four rows (Q8_0, Q5_0).
template <typename Block>
inline __m128 d_scales(const Rows4<Block>& x, int64_t b) {
    return _mm_cvtph_ps(_mm_setr_epi16(static_cast<short>(x[0][b].d), static_cast<short>(x[1][b].d),
                                       static_cast<short>(x[2][b].d), static_cast<short>(x[3][b].d), 0, 0, 0, 0));
}

// Four rows (ws bytes apart) with one activation row whose block scales are already floats
// (da, and for Q8_1 sa); out[r] = the one-row kernel of row r: dot_with_q8_0 for the formats
// met with Q8_0 (signed quants), dot_with_q8_1 for those with an offset (unsigned quants, plus
// m_w * s_a summed on the side).
template <typename Block, typename Act, __m256i (*Quants)(const Block&)>
void full_rows4(int64_t nb, const uint8_t* w, size_t ws, const Act* y, const float* da, const float* sa, float* out) {
    constexpr bool kOffset = std::is_same_v<Act, BlockQ8_1>;
    const Rows4<Block> x(w, ws);
    GroupPrefetch prefetch(w, ws, nb);
    __m128 offsets = _mm_setzero_ps();  // lane r: row r's m_w * s_a sums
    __m256 acc[4];
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        prefetch.step(b);
        const __m256i ya = load32(y[b].qs);
        __m128 d;
        if constexpr (kOffset) {
            d = offset_scales(x, b, da, sa, offsets);
        } else {
            d = _mm_mul_ps(d_scales(x, b), _mm_broadcast_ss(&da[b]));
        }
        __m256 dr[4];
        each_lane(d, dr);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            const __m256i sums = kOffset ? dot_u8_i8(Quants(x[r][b]), ya) : dot_i8(Quants(x[r][b]), ya);
            acc[r] = _mm256_fmadd_ps(dr[r], _mm256_cvtepi32_ps(sums), acc[r]);
        }
    }
    if constexpr (kOffset) {
        alignas(16) float off[4];
        _mm_store_ps(off, offsets);
        for (int r = 0; r < 4; ++r) out[r] = hsum8(acc[r]) + off[r];
    } else {
        for (int r = 0; r < 4; ++r) out[r] = hsum8(acc[r]);
    }
}

// full_rows4 for Q4_1 with the lanes as two 128-bit halves.
void q4_1_rows4_halves(int64_t nb, const uint8_t* w, size_t ws, const BlockQ8_1* y, const float* da, const float* sa,
                       float* out) {
    const Rows4<BlockQ4_1> x(w, ws);
    GroupPrefetch prefetch(w, ws, nb);
    __m128 offsets = _mm_setzero_ps();  // lane r: row r's m_w * s_a sums
    __m128 lo[4], hi[4];
    for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm_setzero_ps();
    const __m128i m4 = _mm_set1_epi8(0x0f), ones = _mm_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        prefetch.step(b);
        const __m128i ya = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].qs));
        const __m128i yb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].qs + 16));
        const __m128 d = offset_scales(x, b, da, sa, offsets);
        __m128 dr[4];
        each_lane(d, dr);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[r][b].qs));
            const __m128i ql = _mm_and_si128(raw, m4);
            const __m128i qh = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
            const __m128 fl = _mm_cvtepi32_ps(_mm_madd_epi16(_mm_maddubs_epi16(ql, ya), ones));
            const __m128 fh = _mm_cvtepi32_ps(_mm_madd_epi16(_mm_maddubs_epi16(qh, yb), ones));
            lo[r] = _mm_fmadd_ps(dr[r], fl, lo[r]);
            hi[r] = _mm_fmadd_ps(dr[r], fh, hi[r]);
        }
    }
    alignas(16) float off[4];
    _mm_store_ps(off, offsets);
    for (int r = 0; r < 4; ++r) out[r] = hsum8_halves(lo[r], hi[r]) + off[r];
}

// full_rows4 for Q8_0 with the lanes as two 128-bit halves: |x| times y with x's signs
// (dot_i8), per 16 bytes.
void q8_0_rows4_halves(int64_t nb, const uint8_t* w, size_t ws, const BlockQ8_0* y, const float* da, const float*,
                       float* out) {
    const Rows4<BlockQ8_0> x(w, ws);
    GroupPrefetch prefetch(w, ws, nb);
    __m128 lo[4], hi[4];
    for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm_setzero_ps();
    const __m128i ones = _mm_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        prefetch.step(b);
        const __m128i ya = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].qs));
        const __m128i yb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].qs + 16));
        const __m128 d = _mm_mul_ps(d_scales(x, b), _mm_broadcast_ss(&da[b]));
        __m128 dr[4];
        each_lane(d, dr);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            const __m128i xa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[r][b].qs));
            const __m128i xb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[r][b].qs + 16));
            const __m128i pa = _mm_maddubs_epi16(_mm_sign_epi8(xa, xa), _mm_sign_epi8(ya, xa));
            const __m128i pb = _mm_maddubs_epi16(_mm_sign_epi8(xb, xb), _mm_sign_epi8(yb, xb));
            lo[r] = _mm_fmadd_ps(dr[r], _mm_cvtepi32_ps(_mm_madd_epi16(pa, ones)), lo[r]);
            hi[r] = _mm_fmadd_ps(dr[r], _mm_cvtepi32_ps(_mm_madd_epi16(pb, ones)), hi[r]);
        }
    }
    for (int r = 0; r < 4; ++r) out[r] = hsum8_halves(lo[r], hi[r]);
}

// The activation row's block scales as floats, once per call (Q8_1's sums s too).
template <typename Act>
void activation_scales(int64_t nb, const Act* y, std::vector<float>& da, std::vector<float>& sa) {
    da.resize(static_cast<size_t>(nb));
    for (int64_t b = 0; b < nb; ++b) da[b] = half_to_float(y[b].d);
    if constexpr (requires { y->s; }) {
        sa.resize(static_cast<size_t>(nb));
        for (int64_t b = 0; b < nb; ++b) sa[b] = half_to_float(y[b].s);
    }
}

template <typename Act>
using Rows4Fn = void (*)(int64_t, const uint8_t*, size_t, const Act*, const float*, const float*, float*);
using OneRow = float (*)(int64_t, const void*, const void*);

// Rows in groups of four, any rest through the one-row kernel.
template <int kElements, typename Act, Rows4Fn<Act> Rows4, OneRow One>
void gemv(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out) {
    const int64_t nb = n / kElements;
    const auto* y = static_cast<const Act*>(act);
    thread_local std::vector<float> da, sa;
    activation_scales(nb, y, da, sa);
    const auto* rows = static_cast<const uint8_t*>(w);
    int r = 0;
    for (; r + 4 <= n_rows; r += 4) Rows4(nb, rows + r * ws, ws, y, da.data(), sa.data(), out + r);
    for (; r < n_rows; ++r) out[r] = One(n, rows + r * ws, act);
}

}  // namespace

template <bool kHalves>
void gemv_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out) {
    constexpr Rows4Fn<BlockQ8_1> rows4 = kHalves ? q4_1_rows4_halves : full_rows4<BlockQ4_1, BlockQ8_1, q4_1_quants>;
    gemv<QK4_1, BlockQ8_1, rows4, vec_dot_q4_1>(n, w, ws, n_rows, act, out);
}

template <bool kHalves>
void gemv_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out) {
    constexpr Rows4Fn<BlockQ8_0> rows4 = kHalves ? q8_0_rows4_halves : full_rows4<BlockQ8_0, BlockQ8_0, q8_0_quants>;
    gemv<QK8_0, BlockQ8_0, rows4, vec_dot_q8_0>(n, w, ws, n_rows, act, out);
}

void gemv_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out) {
    gemv<QK5_0, BlockQ8_0, full_rows4<BlockQ5_0, BlockQ8_0, q5_0_quants>, vec_dot_q5_0>(n, w, ws, n_rows, act, out);
}

void gemv_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out) {
    gemv<QK5_1, BlockQ8_1, full_rows4<BlockQ5_1, BlockQ8_1, q5_1_quants>, vec_dot_q5_1>(n, w, ws, n_rows, act, out);
}

template void gemv_q4_1<false>(int64_t, const void*, size_t, int, const void*, float*);
template void gemv_q4_1<true>(int64_t, const void*, size_t, int, const void*, float*);
template void gemv_q8_0<false>(int64_t, const void*, size_t, int, const void*, float*);
template void gemv_q8_0<true>(int64_t, const void*, size_t, int, const void*, float*);

bool splits_256_bit_ops() {
    static const bool zen1 = [] {
        __builtin_cpu_init();
        return __builtin_cpu_is("znver1") != 0;
    }();
    return zen1;
}

}  // namespace natter::avx2
