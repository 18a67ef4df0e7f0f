#pragma once
// Internal to the SIMD files: building blocks shared by kernels compiled for different
// instruction sets (simd_avx2_*.cpp, simd_avx512_*.cpp). They have internal linkage (an
// unnamed namespace), so each file compiles its own copy for its own target and the linker
// can never hand an AVX2 caller a copy built for AVX-512.
#include <immintrin.h>

#include <cstdint>

#include "quant/blocks.h"

namespace natter::simd {
namespace {

// One block of 8 Q4_0 rows with the rows as lanes: 32-bit lane r of groups[k] holds bytes
// 4k..4k+3 of row r's quants (elements 4k..4k+3 in the low nibbles, 16 + 4k.. in the high
// ones), d lane r row r's scale.
struct Q4_0Rows8 {
    __m256i groups[4];
    __m256 d;
};

inline Q4_0Rows8 load_q4_0_rows8(const BlockQ4_0* const x[8]) {
    __m256i t[4];
    for (int r = 0; r < 4; ++r) {
        t[r] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(x[r + 4]->qs), reinterpret_cast<const __m128i*>(x[r]->qs));
    }
    const __m256i u0 = _mm256_unpacklo_epi32(t[0], t[1]), u1 = _mm256_unpackhi_epi32(t[0], t[1]);
    const __m256i u2 = _mm256_unpacklo_epi32(t[2], t[3]), u3 = _mm256_unpackhi_epi32(t[2], t[3]);
    Q4_0Rows8 rows;
    rows.groups[0] = _mm256_unpacklo_epi64(u0, u2);
    rows.groups[1] = _mm256_unpackhi_epi64(u0, u2);
    rows.groups[2] = _mm256_unpacklo_epi64(u1, u3);
    rows.groups[3] = _mm256_unpackhi_epi64(u1, u3);
    uint64_t d_lo = 0, d_hi = 0;
    for (int r = 0; r < 4; ++r) {
        d_lo |= static_cast<uint64_t>(x[r]->d) << (16 * r);
        d_hi |= static_cast<uint64_t>(x[r + 4]->d) << (16 * r);
    }
    rows.d = _mm256_cvtph_ps(_mm_set_epi64x(static_cast<long long>(d_hi), static_cast<long long>(d_lo)));
    return rows;
}

}  // namespace
}  // namespace natter::simd
