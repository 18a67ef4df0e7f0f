#pragma once
// Internal to quant/simd_avx512_*.cpp, the only files compiled for AVX-512: the intrinsics and
// the small helpers their kernels share. Internal linkage (an unnamed namespace), as in
// simd_rows8.h, so no copy compiled for AVX-512 can become the one the linker keeps for
// a caller elsewhere.
//
// GCC 12 warns, wrongly, that the _mm512_undefined_* placeholders inside its own intrinsics
// (_mm512_cvtepi32_ps, _mm512_slli_epi32, _mm512_shuffle_f32x4) are or may be used
// uninitialized (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"

namespace natter::avx512 {
namespace {

// Batches of at least this many activation rows use the per-tile copy (as the AVX2 kernels).
constexpr int kCopyActs = 16;

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// The 32-element block formats as vpdpbusd takes them: the activation block type, and the
// bias that makes the quants unsigned (q + bias; 0: unsigned already, with offsets m * s).
template <typename Block>
struct Block32;
template <>
struct Block32<BlockQ4_0> {
    using Act = BlockQ8_0;
    static constexpr int kBias = 8;
};
template <>
struct Block32<BlockQ4_1> {
    using Act = BlockQ8_1;
    static constexpr int kBias = 0;
};
template <>
struct Block32<BlockQ5_0> {
    using Act = BlockQ8_0;
    static constexpr int kBias = 16;
};
template <>
struct Block32<BlockQ5_1> {
    using Act = BlockQ8_1;
    static constexpr int kBias = 0;
};
template <>
struct Block32<BlockQ8_0> {
    using Act = BlockQ8_0;
    static constexpr int kBias = 128;
};

// Four bytes at p in every 32-bit lane.
inline __m512i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof(v));
    return _mm512_set1_epi32(v);
}

}  // namespace
}  // namespace natter::avx512
