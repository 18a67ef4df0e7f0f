// natter's fast batch order (--batch-order fast, quant/kernels.h) for the 32-element block
// formats llama.cpp does not repack (Q4_1, Q5_0, Q5_1, Q8_0): 16 weight rows as the 16 lanes of
// a ZMM vector, and per block and output one float step, acc = fma(float(sum of the 32
// products), d_w * d_a, acc), then for the formats with offsets acc = fma(m_w, s_a, acc):
// fast_batch_dot's order, where llama.cpp's takes eight partial sums per block through the
// float steps and adds them at the end. That one-step order is llama.cpp's own for the Q4_0
// rows it repacks, so the batch path of the repacked Q4_0 kernel (simd_avx512_q4_0.cpp) is
// this one too (rows16_copy_q4_0).
//
// The tile's rows are first copied into a per-tile buffer with their quants as unsigned bytes
// (q for the offset formats, q + bias for the signed ones), elements 4k..4k+3 of the 16 rows
// side by side; vpdpbusd then forms the products of all 16 rows with 4 activation bytes
// broadcast, and a signed format's sums start at -bias * (the activation block's sum): the
// integers are exact either way.
#include "quant/simd_avx512_common.h"  // first: the intrinsics, with GCC's false warnings off

#include <cstring>
#include <type_traits>
#include <vector>

// Inline code of ours compiled here for AVX-512 could become the copy the linker keeps for
// every caller, on CPUs without it: this file calls only functions defined elsewhere (avx2's
// and avx512's kernels), its own, and simd_avx512_common.h's (internal linkage).
#include "quant/blocks.h"
#include "quant/packed.h"
#include "quant/simd_avx512.h"

namespace natter {
namespace avx2 {  // simd_avx2.h: the activation blocks' sums
void q8_0_block_sums(int64_t nb, const void* act, int32_t* sums);
}  // namespace avx2

namespace avx512 {
namespace {

// One block of 16 rows for the per-tile copy: group k holds elements 4k..4k+3 of every row
// (row r at 4r) as unsigned bytes, then the 16 scales and (offset formats) the 16 offsets.
template <bool kOffsets>
struct Rows16 {
    uint8_t q[8][64];
    float d[16];
};
template <>
struct Rows16<true> {
    uint8_t q[8][64];
    float d[16];
    float m[16];
};

inline __m256i nibbles32(const uint8_t* qs) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1), _mm256_set1_epi8(15));
}
// Bit j of qh is bit 4 of element j.
inline __m256i with_bit4(__m256i q, const uint8_t* qh) {
    uint32_t bits;
    std::memcpy(&bits, qh, 4);
    return _mm256_mask_add_epi8(q, _cvtu32_mask32(bits), q, _mm256_set1_epi8(16));
}

// Each format's activation type and bias (Block32) and its 32 quants as unsigned bytes, in
// element order.
template <typename Block>
struct Fast;
template <>
struct Fast<BlockQ4_0> : Block32<BlockQ4_0> {
    static __m256i quants(const BlockQ4_0& x) { return nibbles32(x.qs); }
};
template <>
struct Fast<BlockQ4_1> : Block32<BlockQ4_1> {
    static __m256i quants(const BlockQ4_1& x) { return nibbles32(x.qs); }
};
template <>
struct Fast<BlockQ5_0> : Block32<BlockQ5_0> {
    static __m256i quants(const BlockQ5_0& x) { return with_bit4(nibbles32(x.qs), x.qh); }
};
template <>
struct Fast<BlockQ5_1> : Block32<BlockQ5_1> {
    static __m256i quants(const BlockQ5_1& x) { return with_bit4(nibbles32(x.qs), x.qh); }
};
template <>
struct Fast<BlockQ8_0> : Block32<BlockQ8_0> {
    static __m256i quants(const BlockQ8_0& x) {
        return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)), _mm256_set1_epi8(static_cast<char>(0x80)));
    }
};
template <typename Block>
using RowsOf = Rows16<Fast<Block>::kBias == 0>;

// 16 rows' 32 bytes (8 dwords each) into the copy's groups: group k = dword k of rows 0..15.
// Rows r and r + 8 share a vector, whose two 256-bit halves then go through the usual 8 x 8
// dword transpose side by side.
inline void store_groups(const __m256i v[16], uint8_t (*groups)[64]) {
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; ++r) z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(v[r]), v[r + 8], 1);
    for (int r = 0; r < 8; r += 2) {
        t[r] = _mm512_unpacklo_epi32(z[r], z[r + 1]);
        t[r + 1] = _mm512_unpackhi_epi32(z[r], z[r + 1]);
    }
    for (int r = 0; r < 8; r += 4) {
        u[r] = _mm512_unpacklo_epi64(t[r], t[r + 2]);
        u[r + 1] = _mm512_unpackhi_epi64(t[r], t[r + 2]);
        u[r + 2] = _mm512_unpacklo_epi64(t[r + 1], t[r + 3]);
        u[r + 3] = _mm512_unpackhi_epi64(t[r + 1], t[r + 3]);
    }
    // u[i] (i < 4) holds in each 128-bit lane pair dwords {i} of rows 0-3 (lanes 0, 2) and of
    // rows 4-7 in u[i + 4]; the 128-bit lanes: 0 = dword i, 1 = dword i + 4 (per 256-bit half).
    const __m512i low = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), high = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; ++i) {
        _mm512_storeu_si512(groups[i], _mm512_permutex2var_epi64(u[i], low, u[i + 4]));
        _mm512_storeu_si512(groups[i + 4], _mm512_permutex2var_epi64(u[i], high, u[i + 4]));
    }
}

template <typename Block>
void interleave(const uint8_t* w, size_t ws, int64_t nb, RowsOf<Block>* dst) {
    for (int64_t b = 0; b < nb; ++b) {
        __m256i v[16];
        for (int r = 0; r < 16; ++r) {
            const Block& x = reinterpret_cast<const Block*>(w + r * ws)[b];
            v[r] = Fast<Block>::quants(x);
            dst[b].d[r] = half_to_float(x.d);
            if constexpr (Fast<Block>::kBias == 0) dst[b].m[r] = half_to_float(x.m);
        }
        store_groups(v, dst[b].q);
    }
}

// The same copy from a group of 16 Q4_0 rows packed at load (quant/packed.h): only the nibbles
// to widen.
void interleave_packed_q4_0(const uint8_t* w, size_t, int64_t nb, RowsOf<BlockQ4_0>* dst) {
    const auto* p = reinterpret_cast<const PackedQ4_0*>(w);
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = 0; b < nb; ++b) {
        for (int k = 0; k < 4; ++k) {
            const __m512i bits = load64(p[b].q[k]);
            _mm512_storeu_si512(dst[b].q[k], _mm512_and_si512(bits, m4));
            _mm512_storeu_si512(dst[b].q[k + 4], _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4));
        }
        _mm512_storeu_ps(dst[b].d, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[b].d))));
    }
}

// 16 rows (the lanes, from the copy) x A activation rows in the fast order. y_sums: the
// activation blocks' sums (signed formats), row a's block b at a * nb + b.
template <typename Block, int A>
void fast_rows16(int64_t nb, const RowsOf<Block>* w, const typename Fast<Block>::Act* const* y, const int32_t* y_sums, float* out,
                 size_t os) {
    constexpr int kBias = Fast<Block>::kBias;
    __m512 acc[A];
    for (int a = 0; a < A; ++a) acc[a] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const RowsOf<Block>& s = w[b];
        __m512i even[A], odd[A];
        for (int a = 0; a < A; ++a) {
            even[a] = kBias ? _mm512_set1_epi32(-kBias * y_sums[a * nb + b]) : _mm512_setzero_si512();
            odd[a] = _mm512_setzero_si512();
        }
        for (int k = 0; k < 8; k += 2) {
            const __m512i q0 = load64(s.q[k]), q1 = load64(s.q[k + 1]);
            for (int a = 0; a < A; ++a) {
                even[a] = _mm512_dpbusd_epi32(even[a], q0, broadcast4(y[a][b].qs + 4 * k));
                odd[a] = _mm512_dpbusd_epi32(odd[a], q1, broadcast4(y[a][b].qs + 4 * k + 4));
            }
        }
        const __m512 dw = _mm512_loadu_ps(s.d);
        for (int a = 0; a < A; ++a) {
            const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(half_to_float(y[a][b].d)));
            acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(even[a], odd[a])), d, acc[a]);
            if constexpr (kBias == 0) acc[a] = _mm512_fmadd_ps(_mm512_loadu_ps(s.m), _mm512_set1_ps(half_to_float(y[a][b].s)), acc[a]);
        }
    }
    for (int a = 0; a < A; ++a) _mm512_storeu_ps(out + a * os, acc[a]);
}

// Activation rows that run over the copy together (their blocks stay in L1).
constexpr int kActs = 8;

// The tile's first `groups` groups of 16 rows: copied, then every activation row over the copy.
template <typename Block, void (*Interleave)(const uint8_t*, size_t, int64_t, RowsOf<Block>*) = interleave<Block>>
void rows16_groups(int64_t n, const void* w, size_t ws, int groups, const void* act, size_t as, int n_acts, float* out,
                   size_t os) {
    using Act = typename Fast<Block>::Act;
    const int64_t nb = n / Block::elements;
    const auto* w0 = static_cast<const uint8_t*>(w);
    const auto* a0 = static_cast<const uint8_t*>(act);
    {
        thread_local std::vector<RowsOf<Block>> copy;
        thread_local std::vector<int32_t> y_sums;
        copy.resize(static_cast<size_t>(groups * nb));
        for (int g = 0; g < groups; ++g) Interleave(w0 + 16 * g * ws, ws, nb, &copy[g * nb]);
        if constexpr (Fast<Block>::kBias != 0) {
            y_sums.resize(static_cast<size_t>(n_acts * nb));
            for (int a = 0; a < n_acts; ++a) avx2::q8_0_block_sums(nb, a0 + a * as, &y_sums[a * nb]);
        }
        auto run = [&]<int A>(int a) {
            const Act* y[A];
            for (int i = 0; i < A; ++i) y[i] = reinterpret_cast<const Act*>(a0 + (a + i) * as);
            const int32_t* sums = Fast<Block>::kBias != 0 ? &y_sums[a * nb] : nullptr;
            for (int g = 0; g < groups; ++g) fast_rows16<Block, A>(nb, &copy[g * nb], y, sums, out + a * os + 16 * g, os);
        };
        int a = 0;
        for (; a + kActs <= n_acts; a += kActs) run.template operator()<kActs>(a);
        for (; a < n_acts; ++a) run.template operator()<1>(a);
    }
}

template <typename Block>
void fast_tile(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out, size_t os,
               void (*llama_order)(int64_t, const void*, size_t, int, const void*, size_t, int, float*, size_t)) {
    const int groups = n_rows / 16;
    if (groups > 0) rows16_groups<Block>(n, w, ws, groups, act, as, n_acts, out, os);
    const int done = 16 * groups;
    if (done == n_rows) return;
    llama_order(n, static_cast<const uint8_t*>(w) + done * ws, ws, n_rows - done, act, as, n_acts, out + done, os);
}

}  // namespace

void rows16_copy_q4_0(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                      size_t os) {
    rows16_groups<BlockQ4_0>(n, w, ws, n_groups, act, as, n_acts, out, os);
}

void rows16_copy_q4_0_packed(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts,
                             float* out, size_t os) {
    rows16_groups<BlockQ4_0, interleave_packed_q4_0>(n, w, ws, n_groups, act, as, n_acts, out, os);
}

void fast_tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os) {
    fast_tile<BlockQ4_1>(n, w, ws, n_rows, a, as, n_acts, out, os, tile_q4_1);
}
void fast_tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os) {
    fast_tile<BlockQ5_0>(n, w, ws, n_rows, a, as, n_acts, out, os, tile_q5_0);
}
void fast_tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os) {
    fast_tile<BlockQ5_1>(n, w, ws, n_rows, a, as, n_acts, out, os, tile_q5_1);
}
void fast_tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os) {
    fast_tile<BlockQ8_0>(n, w, ws, n_rows, a, as, n_acts, out, os, tile_q8_0);
}

}  // namespace avx512
}  // namespace natter
