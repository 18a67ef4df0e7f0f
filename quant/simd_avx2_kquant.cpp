// AVX2 dot products of the k-quants with Q8_K activations, in the three orders llama.cpp
// uses for them:
//  - vec_dot (one activation row): per super-block, int32 lane L holds
//    sum over the 8 chunks of 32 elements c of scale * (dot of elements 32c+4L .. 32c+4L+3);
//    the lanes are scaled by d and accumulated with a fused multiply-add, the minimums are
//    added on the side in a format-specific way, and the 8 lanes are added at the end;
//  - tiled (prompt batches of 8+ rows on Q2_K..Q6_K): per super-block the exact integer totals
//    s1 = sum scale * dot and s2 = sum min * bsum, then acc = fma(d*s1 - dmin*s2, d_a, acc);
//  - repacked (Q4_K weights llama.cpp interleaves): acc = fma(s1, d*d_a, acc) and
//    acc_min = fma(s2, dmin*d_a, acc_min), the result acc - acc_min.
// Integer sums are exact however they are grouped; only the float steps need llama.cpp's order.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/simd_avx2.h"
#include "quant/unpack.h"

namespace natter::avx2 {
namespace {

// scale_lo * (4-sums of u * s over the first 16 bytes) and scale_hi * (those of the last 16):
// maddubs forms the pair sums (int16, far from saturating for these quants), and one madd by
// the 16-bit scales adds pairs and scales them, the same integers as the 4-sums multiplied by
// the scale, in one instruction instead of a madd by ones and a (slow) 32-bit multiply.
__m256i scaled_sums(__m256i u, __m256i s, int scale_lo, int scale_hi) {
    const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(scale_hi)),
                                            _mm_set1_epi16(static_cast<int16_t>(scale_lo)));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
}

// The per-super-block helpers below are always inlined: called, each call would return its
// lanes through memory and clear the upper halves of the vector registers (vzeroupper),
// which cost Q3_K generation a third of its time.
// Integer lanes of one super-block, and the integer sum of min * activation-sum.
struct KBlock {
    __m256i lanes;  // as described at the top; sum of the lanes = sum of scale * q * q8
    int mins = 0;   // sum over groups of min * (sum of the group's activations)
};

// Q2_K: 2-bit q in bit pairs, 16 groups of 16 with 4-bit scale and min.
[[gnu::always_inline]] inline KBlock q2k_block(const BlockQ2_K& x, const BlockQ8_K& y) {
    KBlock r{_mm256_setzero_si256()};
    for (int half = 0; half < 2; ++half) {
        const __m256i bits = load32(x.qs + 32 * half);
        for (int k = 0; k < 4; ++k) {
            const int c = 4 * half + k;
            const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), _mm256_set1_epi8(3));
            r.lanes = _mm256_add_epi32(r.lanes, scaled_sums(q, load32(y.qs + 32 * c), x.scales[2 * c] & 15, x.scales[2 * c + 1] & 15));
        }
    }
    for (int g = 0; g < 16; ++g) r.mins += (x.scales[g] >> 4) * y.bsums[g];
    return r;
}

// One group (chunk c) of Q4_K, one chunk at a time as the repacked GEMM sums them: its
// scaled lanes, and min * (sum of its activations).
[[gnu::always_inline]] inline KBlock q4k_chunk(const BlockQ4_K& x, const BlockQ8_K& y, int c) {
    const __m256i q = _mm256_and_si256(_mm256_srli_epi16(load32(x.qs + 32 * (c / 2)), 4 * (c % 2)), _mm256_set1_epi8(15));
    int scale = 0, min = 0;
    detail::k4_scale_min(x.scales, c, scale, min);
    return {scaled_sums(q, load32(y.qs + 32 * c), scale, scale), min * (y.bsums[2 * c] + y.bsums[2 * c + 1])};
}

// Q3_K's 16 signed 6-bit scales as int16 lanes 0..15 (llama.cpp's packing: low 4 bits in the
// nibbles of bytes 0..7, high 2 bits in bytes 8..11), unpacked in four 32-bit words at once.
[[gnu::always_inline]] inline __m256i q3k_scales16(const uint8_t packed[12]) {
    uint32_t aux[3];
    std::memcpy(aux, packed, sizeof(aux));
    constexpr uint32_t kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    // Built in registers: four 32-bit stores read back as one 128-bit load would stall on
    // store-to-load forwarding.
    const __m128i biased = _mm_setr_epi32(
        static_cast<int>((aux[0] & kLow4) | ((aux[2] & kLow2) << 4)),                // scales 0..3
        static_cast<int>((aux[1] & kLow4) | (((aux[2] >> 2) & kLow2) << 4)),         // 4..7
        static_cast<int>(((aux[0] >> 4) & kLow4) | (((aux[2] >> 4) & kLow2) << 4)),  // 8..11
        static_cast<int>(((aux[1] >> 4) & kLow4) | (((aux[2] >> 6) & kLow2) << 4)));  // 12..15
    return _mm256_cvtepi8_epi16(_mm_sub_epi8(biased, _mm_set1_epi8(32)));
}

// In both 128-bit halves of v, 16-bit element lo (low half) and hi (high half) in every
// 16-bit lane: one byte shuffle.
[[gnu::always_inline]] inline __m256i spread16(__m256i v, int lo, int hi) {
    const auto pair = [](int e) { return static_cast<short>((2 * e) | ((2 * e + 1) << 8)); };
    return _mm256_shuffle_epi8(v, _mm256_set_m128i(_mm_set1_epi16(pair(hi)), _mm_set1_epi16(pair(lo))));
}

// Q3_K: q - 4 from 2 low bits and a high bit (hmask), 16 groups with signed 6-bit scales.
// sum q * y = sum low * y - sum 4 * y over the elements whose high bit is clear: two maddubs
// (pair sums far from saturating) subtracted in int16, then one madd by the 16-bit scales.
[[gnu::always_inline]] inline KBlock q3k_block(const BlockQ3_K& x, const BlockQ8_K& y) {
    const __m256i scales = q3k_scales16(x.scales);
    const __m256i scales_lo = _mm256_permute2x128_si256(scales, scales, 0x00);  // scales 0..7 in both halves
    const __m256i scales_hi = _mm256_permute2x128_si256(scales, scales, 0x11);  // 8..15
    const __m256i clear = _mm256_andnot_si256(load32(x.hmask), _mm256_set1_epi8(-1));
    KBlock r{_mm256_setzero_si256()};
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
        const __m256i bits = load32(x.qs + 32 * half);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
            const int c = 4 * half + k;
            const __m256i low = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), _mm256_set1_epi8(3));
            // 4 where bit c of the hmask byte is clear: that bit moved to bit 2 of its byte.
            const __m256i moved = c < 2 ? _mm256_slli_epi16(clear, 2 - c) : _mm256_srli_epi16(clear, c - 2);
            const __m256i four = _mm256_and_si256(moved, _mm256_set1_epi8(4));
            const __m256i yc = load32(y.qs + 32 * c);
            const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(low, yc), _mm256_maddubs_epi16(four, yc));
            const __m256i sc = spread16(c < 4 ? scales_lo : scales_hi, 2 * (c % 4), 2 * (c % 4) + 1);
            r.lanes = _mm256_add_epi32(r.lanes, _mm256_madd_epi16(pairs, sc));
        }
    }
    return r;
}

// Q4_K / Q5_K's 8 scales (bytes 0..7) and 8 mins (bytes 8..15) from their 12 packed bytes
// (k4_scale_min's layout, four groups per 32-bit word).
[[gnu::always_inline]] inline __m128i k4_scales_mins(const uint8_t packed[K_SCALE_SIZE]) {
    uint32_t u[3];
    std::memcpy(u, packed, K_SCALE_SIZE);
    constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    return _mm_setr_epi32(static_cast<int>(u[0] & kLow6),                                         // scales 0..3
                          static_cast<int>((u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4)),        // scales 4..7
                          static_cast<int>(u[1] & kLow6),                                         // mins 0..3
                          static_cast<int>(((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4)));  // mins 4..7
}

// Lane k: min[2k] * (activation sum of group 2k) + min[2k+1] * (that of group 2k+1).
[[gnu::always_inline]] inline __m128i k4_min_lanes(__m128i scales_mins, const BlockQ8_K& y) {
    const __m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scales_mins, scales_mins));
    const __m128i group_sums = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y.bsums)),
                                              _mm_loadu_si128(reinterpret_cast<const __m128i*>(y.bsums + 8)));
    return _mm_madd_epi16(mins, group_sums);
}

[[gnu::always_inline]] inline int hsum4_i32(__m128i v) {
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

// Q4_K / Q5_K: 8 groups of 32 with 6-bit scales and mins; Q5_K's fifth bits in qh (bit c of
// each byte for chunk c, moved to bit 4).
template <typename Block>
[[gnu::always_inline]] inline KBlock q45k_block(const Block& x, const BlockQ8_K& y) {
    const __m128i scales_mins = k4_scales_mins(x.scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
    KBlock r{_mm256_setzero_si256(), hsum4_i32(k4_min_lanes(scales_mins, y))};
    [[maybe_unused]] __m256i qh;
    if constexpr (requires { x.qh; }) qh = load32(x.qh);
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
        const __m256i bits = load32(x.qs + 32 * (c / 2));
        __m256i q = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(bits, 4) : bits, _mm256_set1_epi8(15));
        if constexpr (requires { x.qh; }) {
            const __m256i moved = c <= 4 ? _mm256_slli_epi16(qh, 4 - c) : _mm256_srli_epi16(qh, c - 4);
            q = _mm256_or_si256(q, _mm256_and_si256(moved, _mm256_set1_epi8(16)));
        }
        const __m256i pairs = _mm256_maddubs_epi16(q, load32(y.qs + 32 * c));
        r.lanes = _mm256_add_epi32(r.lanes, _mm256_madd_epi16(pairs, spread16(scales, c, c)));
    }
    return r;
}

// Q6_K: unsigned 6-bit q (4 bits in ql, 2 in qh), 16 groups with int8 scales; the offset
// 32 comes off afterwards as 32 * (scale * bsum) of groups 2L and 2L+1 from lane L. The
// lanes of one weight super-block with A activation blocks, the weights unpacked once.
// (madd by a 16-bit scale forms the same exact products as scaled_sums.)
template <int A>
void q6k_lanes(const BlockQ6_K& x, const BlockQ8_K* const y[A], __m256i lanes[A]) {
    for (int a = 0; a < A; ++a) lanes[a] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = load32(x.ql + 64 * half);
        const __m256i ql1 = load32(x.ql + 64 * half + 32);
        const __m256i qh = load32(x.qh + 32 * half);
        const __m256i m15 = _mm256_set1_epi8(15);
        const __m256i low[4] = {_mm256_and_si256(ql0, m15), _mm256_and_si256(ql1, m15),
                                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m15),
                                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m15)};
        for (int k = 0; k < 4; ++k) {
            const int c = 4 * half + k;
            const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
            const __m256i q = _mm256_or_si256(low[k], _mm256_slli_epi16(high, 4));
            const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(x.scales[2 * c + 1]), _mm_set1_epi16(x.scales[2 * c]));
            for (int a = 0; a < A; ++a) {
                const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load32(y[a]->qs + 32 * c)), scale);
                lanes[a] = _mm256_add_epi32(lanes[a], sums);
            }
        }
    }
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
    for (int a = 0; a < A; ++a) {
        const __m256i offsets = _mm256_slli_epi32(_mm256_madd_epi16(load32(y[a]->bsums), scales16), 5);
        lanes[a] = _mm256_sub_epi32(lanes[a], offsets);
    }
}

[[gnu::always_inline]] inline KBlock q6k_block(const BlockQ6_K& x, const BlockQ8_K& y) {
    const BlockQ8_K* const ys[1] = {&y};
    KBlock r;
    q6k_lanes<1>(x, ys, &r.lanes);
    return r;
}

[[gnu::always_inline]] inline KBlock k_block(const BlockQ2_K& x, const BlockQ8_K& y) { return q2k_block(x, y); }
[[gnu::always_inline]] inline KBlock k_block(const BlockQ3_K& x, const BlockQ8_K& y) { return q3k_block(x, y); }
[[gnu::always_inline]] inline KBlock k_block(const BlockQ4_K& x, const BlockQ8_K& y) { return q45k_block(x, y); }
[[gnu::always_inline]] inline KBlock k_block(const BlockQ5_K& x, const BlockQ8_K& y) { return q45k_block(x, y); }
[[gnu::always_inline]] inline KBlock k_block(const BlockQ6_K& x, const BlockQ8_K& y) { return q6k_block(x, y); }

// Q3_K and Q6_K, which have no minimums: acc = fma(d_w * d_a, lanes, acc) per block.
template <typename Block>
float dot_lanes_only(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float d = y[b].d * half_to_float(x[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(k_block(x[b], y[b]).lanes), acc);
    }
    return hsum8(acc);
}

}  // namespace

float vec_dot_q2_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float d = y[b].d * half_to_float(x[b].d);
        const float dmin = -y[b].d * half_to_float(x[b].dmin);
        // Minimums in 8 lanes of two groups each: min[2k] * bsum[2k] + min[2k+1] * bsum[2k+1].
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
        const __m256i mins16 = _mm256_cvtepi8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(15)));
        const __m256i min_lanes = _mm256_madd_epi16(mins16, load32(y[b].bsums));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(min_lanes), acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q2k_block(x[b], y[b]).lanes), acc);
    }
    return hsum8(acc);
}

float vec_dot_q3_k(int64_t n, const void* w, const void* a) { return dot_lanes_only<BlockQ3_K>(n, w, a); }

float vec_dot_q4_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float d = y[b].d * half_to_float(x[b].d);
        const float dmin = -y[b].d * half_to_float(x[b].dmin);
        // Minimums in 4 lanes of two 32-groups each.
        const __m128 mins = _mm_cvtepi32_ps(k4_min_lanes(k4_scales_mins(x[b].scales), y[b]));
        acc_min = _mm_fmadd_ps(_mm_set1_ps(dmin), mins, acc_min);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q45k_block(x[b], y[b]).lanes), acc);
    }
    acc_min = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
    acc_min = _mm_add_ss(acc_min, _mm_movehdup_ps(acc_min));
    return hsum8(acc) + _mm_cvtss_f32(acc_min);
}

float vec_dot_q5_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float d = y[b].d * half_to_float(x[b].d);
        const float dmin = -y[b].d * half_to_float(x[b].dmin);
        const KBlock k = q45k_block(x[b], y[b]);
        mins = std::fma(dmin, static_cast<float>(k.mins), mins);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(k.lanes), acc);
    }
    return hsum8(acc) + mins;
}

float vec_dot_q6_k(int64_t n, const void* w, const void* a) { return dot_lanes_only<BlockQ6_K>(n, w, a); }

namespace {

template <typename Block>
float tiled_dot(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const KBlock k = k_block(x[b], y[b]);
        float r = half_to_float(x[b].d) * static_cast<float>(hsum8_i32(k.lanes));
        if constexpr (requires { x[b].dmin; }) r = std::fma(-half_to_float(x[b].dmin), static_cast<float>(k.mins), r);
        acc = std::fma(r, y[b].d, acc);
    }
    return acc;
}

}  // namespace

float tiled_dot_q2_k(int64_t n, const void* w, const void* a) { return tiled_dot<BlockQ2_K>(n, w, a); }
float tiled_dot_q3_k(int64_t n, const void* w, const void* a) { return tiled_dot<BlockQ3_K>(n, w, a); }
float tiled_dot_q4_k(int64_t n, const void* w, const void* a) { return tiled_dot<BlockQ4_K>(n, w, a); }
float tiled_dot_q5_k(int64_t n, const void* w, const void* a) { return tiled_dot<BlockQ5_K>(n, w, a); }
float tiled_dot_q6_k(int64_t n, const void* w, const void* a) { return tiled_dot<BlockQ6_K>(n, w, a); }

float vec_dot_q4_k_repacked(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    float acc = 0.0f;
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const KBlock k = q45k_block(x[b], y[b]);
        acc = std::fma(static_cast<float>(hsum8_i32(k.lanes)), half_to_float(x[b].d) * y[b].d, acc);
        acc_min = std::fma(static_cast<float>(k.mins), half_to_float(x[b].dmin) * y[b].d, acc_min);
    }
    return acc - acc_min;
}

// The repacked GEMM (rows in groups of 4) accumulates every 64 elements (two groups).
float vec_dot_q4_k_repacked_gemm(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    float acc = 0.0f;
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float d = half_to_float(x[b].d) * y[b].d;
        const float dmin = half_to_float(x[b].dmin) * y[b].d;
        for (int c = 0; c < 8; c += 2) {
            const KBlock first = q4k_chunk(x[b], y[b], c);
            const KBlock second = q4k_chunk(x[b], y[b], c + 1);
            const int sum = hsum8_i32(_mm256_add_epi32(first.lanes, second.lanes));
            acc = std::fma(static_cast<float>(sum), d, acc);
            acc_min = std::fma(static_cast<float>(first.mins + second.mins), dmin, acc_min);
        }
    }
    return acc - acc_min;
}

// Tiles (TileDotFn): one weight row at a time against up to kActs activation rows, each
// super-block unpacked once for all of them. The integer lanes are those of the one-output
// kernels above (madd by a 16-bit scale forms the same exact products as scaled_sums), and
// the float steps per output are theirs, in their order.
namespace {

constexpr int kActs = 4;

// Weights are read once per token; fetching ~2 KiB ahead keeps memory busy during the math.
template <typename Block>
void prefetch_ahead(const Block* x) {
    constexpr int kAhead = 2048 / sizeof(Block);
    _mm_prefetch(reinterpret_cast<const char*>(x + kAhead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(x + kAhead) + 64, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(x + kAhead) + 128, _MM_HINT_T0);
}

template <int A>
void act_blocks(const void* act, size_t as, int64_t b, const BlockQ8_K* y[A]) {
    for (int a = 0; a < A; ++a) y[a] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + a * as) + b;
}

// Q4_K as the repacked GEMV sums it (per super-block) or the GEMM (per 64 elements).
template <bool kGemm, int A>
void q4k_repacked_micro(int64_t nb, const BlockQ4_K* x, const void* act, size_t as, float* out, size_t os) {
    float acc[A] = {}, acc_min[A] = {};
    for (int64_t b = 0; b < nb; ++b) {
        const BlockQ8_K* y[A];
        act_blocks<A>(act, as, b, y);
        prefetch_ahead(x + b);
        const float d = half_to_float(x[b].d), dmin = half_to_float(x[b].dmin);
        __m256i lanes[A];
        int mins[A];
        for (int a = 0; a < A; ++a) lanes[a] = _mm256_setzero_si256(), mins[a] = 0;
        for (int c = 0; c < 8; c += 2) {
            const __m256i bits = load32(x[b].qs + 16 * c);
            const __m256i q0 = _mm256_and_si256(bits, _mm256_set1_epi8(15));
            const __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(15));
            int s0 = 0, m0 = 0, s1 = 0, m1 = 0;
            detail::k4_scale_min(x[b].scales, c, s0, m0);
            detail::k4_scale_min(x[b].scales, c + 1, s1, m1);
            const __m256i sc0 = _mm256_set1_epi16(static_cast<short>(s0)), sc1 = _mm256_set1_epi16(static_cast<short>(s1));
            for (int a = 0; a < A; ++a) {
                const __m256i l0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, load32(y[a]->qs + 32 * c)), sc0);
                const __m256i l1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, load32(y[a]->qs + 32 * c + 32)), sc1);
                const int16_t* bs = y[a]->bsums + 2 * c;
                const int m = m0 * (bs[0] + bs[1]) + m1 * (bs[2] + bs[3]);
                if constexpr (kGemm) {
                    const float da = y[a]->d;
                    acc[a] = std::fma(static_cast<float>(hsum8_i32(_mm256_add_epi32(l0, l1))), d * da, acc[a]);
                    acc_min[a] = std::fma(static_cast<float>(m), dmin * da, acc_min[a]);
                } else {
                    lanes[a] = _mm256_add_epi32(lanes[a], _mm256_add_epi32(l0, l1));
                    mins[a] += m;
                }
            }
        }
        if constexpr (!kGemm) {
            for (int a = 0; a < A; ++a) {
                acc[a] = std::fma(static_cast<float>(hsum8_i32(lanes[a])), d * y[a]->d, acc[a]);
                acc_min[a] = std::fma(static_cast<float>(mins[a]), dmin * y[a]->d, acc_min[a]);
            }
        }
    }
    for (int a = 0; a < A; ++a) out[a * os] = acc[a] - acc_min[a];
}

// Q6_K as vec_dot sums it (8 float lanes per output) or the tiled kernel (one float).
template <bool kTiled, int A>
void q6k_micro(int64_t nb, const BlockQ6_K* x, const void* act, size_t as, float* out, size_t os) {
    __m256 vacc[A];
    float acc[A] = {};
    for (int a = 0; a < A; ++a) vacc[a] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const BlockQ8_K* y[A];
        act_blocks<A>(act, as, b, y);
        prefetch_ahead(x + b);
        __m256i lanes[A];
        q6k_lanes<A>(x[b], y, lanes);
        const float dw = half_to_float(x[b].d);
        for (int a = 0; a < A; ++a) {
            const __m256i total = lanes[a];
            if constexpr (kTiled) {
                acc[a] = std::fma(dw * static_cast<float>(hsum8_i32(total)), y[a]->d, acc[a]);
            } else {
                vacc[a] = _mm256_fmadd_ps(_mm256_set1_ps(y[a]->d * dw), _mm256_cvtepi32_ps(total), vacc[a]);
            }
        }
    }
    for (int a = 0; a < A; ++a) out[a * os] = kTiled ? acc[a] : hsum8(vacc[a]);
}

// Every weight row against the activation rows in groups of kActs, then the rest singly.
template <typename Block, void (*Many)(int64_t, const Block*, const void*, size_t, float*, size_t),
          void (*One)(int64_t, const Block*, const void*, size_t, float*, size_t)>
void row_tile(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out,
              size_t os) {
    const int64_t nb = n / QK_K;
    for (int a = 0; a < n_acts; a += kActs) {
        const uint8_t* a0 = static_cast<const uint8_t*>(act) + a * as;
        for (int r = 0; r < n_rows; ++r) {
            const auto* x = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * ws);
            if (a + kActs <= n_acts) {
                Many(nb, x, a0, as, out + a * os + r, os);
            } else {
                for (int i = a; i < n_acts; ++i) One(nb, x, a0 + (i - a) * as, as, out + i * os + r, os);
            }
        }
    }
}

// Full groups of 8 weight rows go to the kernels with the 8 rows as lanes (simd_avx2_rows8.cpp);
// for Q6_K only batches of kRows8Acts or more, over which its per-tile copy of the rows pays off.
constexpr int kRows8Acts = 16;

template <bool kGemm>
void q4k_repacked_tile(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                       size_t os) {
    int r = 0;
    if (n_rows >= 8) {
        tile_q4_k_rows8(n, w, ws, n_rows / 8, a, as, n_acts, out, os, kGemm);
        r = n_rows - n_rows % 8;
    }
    if (r == n_rows) return;
    row_tile<BlockQ4_K, q4k_repacked_micro<kGemm, kActs>, q4k_repacked_micro<kGemm, 1>>(
        n, static_cast<const uint8_t*>(w) + r * ws, ws, n_rows - r, a, as, n_acts, out + r, os);
}

}  // namespace

void tile_q4_k_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                        float* out, size_t os) {
    q4k_repacked_tile<false>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q4_k_repacked_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                             float* out, size_t os) {
    q4k_repacked_tile<true>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q6_k(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os) {
    row_tile<BlockQ6_K, q6k_micro<false, kActs>, q6k_micro<false, 1>>(n, w, ws, n_rows, a, as, n_acts, out, os);
}
void tile_q6_k_tiled(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                     size_t os) {
    int r = 0;
    if (n_acts >= kRows8Acts && n_rows >= 8) {
        tile_q6_k_rows8(n, w, ws, n_rows / 8, a, as, n_acts, out, os);
        r = n_rows - n_rows % 8;
    }
    if (r == n_rows) return;
    row_tile<BlockQ6_K, q6k_micro<true, kActs>, q6k_micro<true, 1>>(n, static_cast<const uint8_t*>(w) + r * ws, ws, n_rows - r,
                                                                   a, as, n_acts, out + r, os);
}

}  // namespace natter::avx2
