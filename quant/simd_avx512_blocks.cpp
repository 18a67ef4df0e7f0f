// The batch kernels of the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) with two
// weight rows to a ZMM vector and VNNI's vpdpbusd for the byte products: the bits of the AVX2
// micro-tiles (simd_avx2_tile.cpp's block_micro), which give each output vec_dot's order.
//
// That order, per output and block: 8 int32 lanes, lane l the sum of the products of elements
// 4l..4l+3; acc = fma(d_w * d_a, float(lanes), acc); at the end hsum8(acc), plus, for the
// formats with offsets (Q4_1, Q5_1 against Q8_1), the sum of m_w * s_a taken block by block
// with fma. Here lanes 0-7 of a vector are one weight row's 8 lanes and lanes 8-15 the next
// row's; the activation block is broadcast to both halves and each half's scale is its own
// row's, so every lane takes the AVX2 kernel's steps and each half's hsum8 is its output.
//
// vpdpbusd multiplies unsigned bytes by signed ones, so the weights go in as unsigned quants:
// the offset formats' q as they are (0..15, 0..31), the signed ones' q + bias (Q4_0: q + 8,
// Q5_0: q + 16, Q8_0: q + 128), and each lane starts at -bias * (the sum of its 4 activation
// bytes), formed once per activation block of the tile: the lanes are the AVX2 kernel's
// integers, exactly.
//
// A tile goes in micro-tiles of 4 weight rows x 8 (then 4) activation rows; the weight rows
// and activation rows that do not fill one go through the AVX2 form, which is the same bits.
#include "quant/simd_avx512_common.h"  // first: the intrinsics, with GCC's false warnings off

#include <type_traits>
#include <vector>

// Inline code of ours compiled here for AVX-512 could become the copy the linker keeps for
// every caller, on CPUs without it: this file calls only avx2's kernels (defined elsewhere),
// its own functions, and simd_avx512_common.h's (internal linkage).
#include "quant/blocks.h"
#include "quant/simd_avx512.h"

namespace natter {
namespace avx2 {  // the forms for what the AVX-512 ones leave over (simd_avx2.h)
void tile_q4_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
}  // namespace avx2

namespace avx512 {
namespace {

using TileFn = void (*)(int64_t, const void*, size_t, int, const void*, size_t, int, float*, size_t);

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Two rows' 16 nibble bytes as their 2 x 32 quants: 128-bit lanes [a's low nibbles (elements
// 0-15), a's high nibbles (16-31), b's low, b's high].
inline __m512i nibbles2(const uint8_t* a, const uint8_t* b) {
    const __m256i aa = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)));
    const __m256i bb = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(aa), bb, 1);
    const __m512i shifted = _mm512_srlv_epi64(both, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0f));
}

// Bit j of qh is bit 4 of element j: byte i of the pair (row a's element i, then row b's).
inline __m512i with_high_bits(__m512i q, const uint8_t* qh_a, const uint8_t* qh_b) {
    uint32_t ha, hb;
    std::memcpy(&ha, qh_a, 4);
    std::memcpy(&hb, qh_b, 4);
    const __mmask64 high = _cvtu64_mask64(static_cast<uint64_t>(ha) | static_cast<uint64_t>(hb) << 32);
    return _mm512_mask_add_epi8(q, high, q, _mm512_set1_epi8(0x10));
}

// What the kernel needs of each format: Block32's activation type and bias, and the unsigned
// quants of two rows.
template <typename Block>
struct Format;
template <>
struct Format<BlockQ4_0> : Block32<BlockQ4_0> {
    static __m512i pair(const BlockQ4_0& a, const BlockQ4_0& b) { return nibbles2(a.qs, b.qs); }
};
template <>
struct Format<BlockQ4_1> : Block32<BlockQ4_1> {
    static __m512i pair(const BlockQ4_1& a, const BlockQ4_1& b) { return nibbles2(a.qs, b.qs); }
};
template <>
struct Format<BlockQ5_0> : Block32<BlockQ5_0> {
    static __m512i pair(const BlockQ5_0& a, const BlockQ5_0& b) { return with_high_bits(nibbles2(a.qs, b.qs), a.qh, b.qh); }
};
template <>
struct Format<BlockQ5_1> : Block32<BlockQ5_1> {
    static __m512i pair(const BlockQ5_1& a, const BlockQ5_1& b) { return with_high_bits(nibbles2(a.qs, b.qs), a.qh, b.qh); }
};
template <>
struct Format<BlockQ8_0> : Block32<BlockQ8_0> {
    static __m512i pair(const BlockQ8_0& a, const BlockQ8_0& b) {
        const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(load32(a.qs)), load32(b.qs), 1);
        return _mm512_xor_si512(both, _mm512_set1_epi8(static_cast<char>(0x80)));
    }
};

// ggml's x86 hsum of 8 floats: upper half plus lower half, then lanes (0+2) and (1+3), then
// those two.
inline float hsum8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// The scales of a tile as floats, each converted once, and each activation block's lanes'
// starting values -bias * (sum of its 4 bytes). Weights: wd[r * nb + b]; the offsets m of each
// group of 4 rows side by side, wm[(g * nb + b) * 4 + r % 4]. Activations (A rows at a time):
// ad, as at [b * A + a], start at [(b * A + a) * 8].
struct Scales {
    std::vector<float> wd, wm, ad, as;
    std::vector<int32_t> start;

    template <typename Block>
    void weights(int64_t nb, const uint8_t* w, size_t ws, int n_rows) {
        wd.resize(static_cast<size_t>(n_rows * nb));
        if constexpr (Format<Block>::kBias == 0) wm.resize(static_cast<size_t>(n_rows * nb));
        for (int r = 0; r < n_rows; ++r) {
            const auto* x = reinterpret_cast<const Block*>(w + r * ws);
            for (int64_t b = 0; b < nb; ++b) {
                wd[r * nb + b] = half_to_float(x[b].d);
                if constexpr (Format<Block>::kBias == 0) wm[((r / 4) * nb + b) * 4 + r % 4] = half_to_float(x[b].m);
            }
        }
    }
    template <typename Block, int A>
    void acts(int64_t nb, const uint8_t* act, size_t as_bytes) {
        using Act = typename Format<Block>::Act;
        ad.resize(static_cast<size_t>(A * nb));
        as.resize(static_cast<size_t>(A * nb));
        if constexpr (Format<Block>::kBias != 0) start.resize(static_cast<size_t>(A * nb * 8));
        const __m256i bias = _mm256_set1_epi8(static_cast<char>(Format<Block>::kBias));
        for (int a = 0; a < A; ++a) {
            const auto* y = reinterpret_cast<const Act*>(act + a * as_bytes);
            for (int64_t b = 0; b < nb; ++b) {
                ad[b * A + a] = half_to_float(y[b].d);
                if constexpr (std::is_same_v<Act, BlockQ8_1>) as[b * A + a] = half_to_float(y[b].s);
                if constexpr (Format<Block>::kBias != 0) {
                    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, load32(y[b].qs));
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(&start[(b * A + a) * 8]),
                                        _mm256_sub_epi32(_mm256_setzero_si256(), sums));
                }
            }
        }
    }
};

// 4 weight rows (from row r0 of the tile, r0 % 4 == 0) x A activation rows.
template <typename Block, int A>
void pairs_micro(int64_t nb, const uint8_t* w, size_t ws, int r0, const uint8_t* act, size_t as_bytes, const Scales& sc,
                 float* out, size_t os) {
    using F = Format<Block>;
    using Act = typename F::Act;
    constexpr bool kOffsets = F::kBias == 0;
    constexpr int P = 2;
    __m512 acc[P][A];
    __m512 offsets[A / 4];
    for (int p = 0; p < P; ++p) {
        for (int a = 0; a < A; ++a) acc[p][a] = _mm512_setzero_ps();
    }
    for (int h = 0; h < A / 4; ++h) offsets[h] = _mm512_setzero_ps();
    // Offsets: lane 4a + r of vector h is row r with activation row 4h + a.
    const __m512i by_act = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const Block* x[2 * P];
    for (int r = 0; r < 2 * P; ++r) x[r] = reinterpret_cast<const Block*>(w + (r0 + r) * ws);
    const float* wd = sc.wd.data() + r0 * nb;
    for (int64_t b = 0; b < nb; ++b) {
        __m512i q[P];
        __m512 dw[P];
        for (int p = 0; p < P; ++p) {
            q[p] = F::pair(x[2 * p][b], x[2 * p + 1][b]);
            dw[p] = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(wd[2 * p * nb + b]), _mm512_set1_ps(wd[(2 * p + 1) * nb + b]));
        }
        if constexpr (kOffsets) {
            const __m512 wm = _mm512_broadcast_f32x4(_mm_loadu_ps(&sc.wm[((r0 / 4) * nb + b) * 4]));
            for (int h = 0; h < A / 4; ++h) {
                const __m512 s = _mm512_permutexvar_ps(by_act, _mm512_castps128_ps512(_mm_loadu_ps(&sc.as[b * A + 4 * h])));
                offsets[h] = _mm512_fmadd_ps(wm, s, offsets[h]);
            }
        }
        for (int a = 0; a < A; ++a) {
            const Act& y = reinterpret_cast<const Act*>(act + a * as_bytes)[b];
            const __m512i ya = _mm512_broadcast_i64x4(load32(y.qs));
            __m512i start = _mm512_setzero_si512();
            if constexpr (!kOffsets) start = _mm512_broadcast_i64x4(load32(&sc.start[(b * A + a) * 8]));
            const __m512 da = _mm512_set1_ps(sc.ad[b * A + a]);
            for (int p = 0; p < P; ++p) {
                const __m512i lanes = _mm512_dpbusd_epi32(start, q[p], ya);
                acc[p][a] = _mm512_fmadd_ps(_mm512_mul_ps(dw[p], da), _mm512_cvtepi32_ps(lanes), acc[p][a]);
            }
        }
    }
    alignas(64) float off[A * 4] = {};
    if constexpr (kOffsets) {
        for (int h = 0; h < A / 4; ++h) _mm512_store_ps(&off[16 * h], offsets[h]);
    }
    for (int p = 0; p < P; ++p) {
        for (int a = 0; a < A; ++a) {
            float* o = out + a * os + r0 + 2 * p;
            o[0] = hsum8(_mm512_castps512_ps256(acc[p][a]));
            o[1] = hsum8(_mm512_castps512_ps256(_mm512_shuffle_f32x4(acc[p][a], acc[p][a], 0xee)));
            if constexpr (kOffsets) {
                o[0] = o[0] + off[a * 4 + 2 * p];
                o[1] = o[1] + off[a * 4 + 2 * p + 1];
            }
        }
    }
}

// Activation rows 8 then 4 at a time over the tile's groups of 4 weight rows; the weight rows
// and activation rows left over through the AVX2 form.
template <typename Block>
void pairs_tile(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out,
                size_t os, TileFn avx2_form) {
    const int64_t nb = n / Block::elements;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* ab = static_cast<const uint8_t*>(act);
    const int rows = n_rows - n_rows % 4, acts = n_acts - n_acts % 4;
    if (rows > 0 && acts > 0) {
        thread_local Scales sc;
        sc.weights<Block>(nb, wb, ws, rows);
        int a = 0;
        for (; a + 8 <= acts; a += 8) {
            sc.acts<Block, 8>(nb, ab + a * as, as);
            for (int r = 0; r < rows; r += 4) pairs_micro<Block, 8>(nb, wb, ws, r, ab + a * as, as, sc, out + a * os, os);
        }
        if (a < acts) {
            sc.acts<Block, 4>(nb, ab + a * as, as);
            for (int r = 0; r < rows; r += 4) pairs_micro<Block, 4>(nb, wb, ws, r, ab + a * as, as, sc, out + a * os, os);
        }
        if (rows < n_rows) avx2_form(n, wb + rows * ws, ws, n_rows - rows, act, as, acts, out + rows, os);
    } else if (acts > 0) {
        avx2_form(n, w, ws, n_rows, act, as, acts, out, os);
    }
    if (acts < n_acts) avx2_form(n, w, ws, n_rows, ab + acts * as, as, n_acts - acts, out + acts * os, os);
}

}  // namespace

void tile_q4_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    pairs_tile<BlockQ4_0>(n, w, ws, n_rows, a, as, n_acts, out, os, avx2::tile_q4_0);
}
void tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    pairs_tile<BlockQ4_1>(n, w, ws, n_rows, a, as, n_acts, out, os, avx2::tile_q4_1);
}
void tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    pairs_tile<BlockQ5_0>(n, w, ws, n_rows, a, as, n_acts, out, os, avx2::tile_q5_0);
}
void tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    pairs_tile<BlockQ5_1>(n, w, ws, n_rows, a, as, n_acts, out, os, avx2::tile_q5_1);
}
void tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    pairs_tile<BlockQ8_0>(n, w, ws, n_rows, a, as, n_acts, out, os, avx2::tile_q8_0);
}

}  // namespace avx512
}  // namespace natter
