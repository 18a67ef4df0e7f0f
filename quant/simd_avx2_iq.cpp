// AVX2 dot products of the IQ and ternary formats, in the order of llama.cpp's x86 kernels
// (ggml-cpu/arch/x86/quants.c, compiled by GCC with FMA, which fuses its `a += b * c`):
//
//  - IQ4_NL with Q8_0: blocks in pairs, acc1 / acc2 = fma(d_w * d_a, lanes, acc) for the
//    first / second block of each pair, hsum8(acc1 + acc2), then an odd last block added as
//    a scalar, sum += (d_w * d_a) * integer sum.
//  - the super-block formats with Q8_K: 8 int32 lanes per block, lane k holding elements
//    4k..4k+3 of every 32 times their integer scale, then per format
//      grid (IQ2, IQ3, IQ4_XS)  acc = fma(d_w * d_a, lanes, acc); factor * hsum8(acc)
//      IQ1_S                    acc = fma(d, lanes, acc), shifts = fma(d, shift sum, shifts);
//                               fma(1/8, shifts, hsum8(acc))
//      IQ1_M                    acc1 / acc2 = fma(d, lanes / shift lanes, acc);
//                               fma(1/8, hsum8(acc2), hsum8(acc1))
//      TQ1_0, TQ2_0             lanes of t in 0..2 less the pairs of Q8_K's 16-sums,
//                               acc = fma(lanes, d, acc); hsum8(acc)
//    The lanes are exact integers however they are formed, so the blocks are decoded by the
//    one decoder of quant/iq.cpp and multiplied here.
//  (IQ4_NL repacked and through tinyBLAS sum as Q4_0 does: simd_avx2_quant.cpp.)
#include <cmath>

#include "quant/iq.h"
#include "quant/simd_avx2.h"

namespace natter::avx2 {
namespace {

using detail::IqBlock;
using detail::IqKind;

// Lanes of one 32-element group times its two 16-element scales.
inline __m256i group_lanes(__m256i q, __m256i y, int16_t scale_lo, int16_t scale_hi) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
    return _mm256_madd_epi16(pairs, _mm256_set_m128i(_mm_set1_epi16(scale_hi), _mm_set1_epi16(scale_lo)));
}

// Lanes of the decoded quants with the activation block.
inline __m256i block_lanes(const IqBlock& x, const BlockQ8_K& a) {
    __m256i lanes = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
        lanes = _mm256_add_epi32(lanes, group_lanes(load32(x.q + 32 * g), load32(a.qs + 32 * g), x.scales[2 * g],
                                                    x.scales[2 * g + 1]));
    }
    return lanes;
}

// IQ1_M: the lanes of scale * delta * a (delta = +-1 per 8 elements).
inline __m256i shift_lanes(const IqBlock& x, const BlockQ8_K& a) {
    __m256i lanes = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
        const int8_t* delta = x.deltas + 4 * g;
        const __m256i signs = _mm256_set_epi64x(delta[3] < 0 ? -1 : 0x0101010101010101, delta[2] < 0 ? -1 : 0x0101010101010101,
                                                delta[1] < 0 ? -1 : 0x0101010101010101, delta[0] < 0 ? -1 : 0x0101010101010101);
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_sign_epi8(load32(a.qs + 32 * g), signs));
        lanes = _mm256_add_epi32(lanes, _mm256_madd_epi16(pairs, _mm256_set_m128i(_mm_set1_epi16(x.scales[2 * g + 1]),
                                                                                  _mm_set1_epi16(x.scales[2 * g]))));
    }
    return lanes;
}

// IQ1_S: sum over 16-element halves of scale * delta * (Q8_K's sum of the half).
inline int shift_sum(const IqBlock& x, const BlockQ8_K& a) {
    int sum = 0;
    for (int h = 0; h < QK_K / 16; ++h) sum += x.scales[h] * x.deltas[2 * h] * a.bsums[h];
    return sum;
}

float dot_super_blocks(GgmlType type, int64_t n, const void* w, const void* act) {
    const detail::IqFormat format = detail::iq_format(type);
    const auto* y = static_cast<const BlockQ8_K*>(act);
    __m256 acc = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps();
    float shifts = 0.0f;
    IqBlock x;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        detail::unpack_iq(type, w, b, x);
        const float d = x.d * y[b].d;
        __m256i lanes = block_lanes(x, y[b]);
        switch (format.kind) {
            case IqKind::Grid:
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc);
                break;
            case IqKind::Shifted:
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc);
                if (type == GgmlType::IQ1_M) {
                    acc2 = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(shift_lanes(x, y[b])), acc2);
                } else {
                    shifts = std::fma(d, static_cast<float>(shift_sum(x, y[b])), shifts);
                }
                break;
            case IqKind::Ternary: {
                const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums));
                lanes = _mm256_sub_epi32(lanes, _mm256_madd_epi16(bsums, _mm256_set1_epi16(1)));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(d), acc);
                break;
            }
        }
    }
    if (format.kind == IqKind::Shifted) {
        return std::fma(0.125f, type == GgmlType::IQ1_M ? hsum8(acc2) : shifts, hsum8(acc));
    }
    return format.factor * hsum8(acc);
}

// The tiled kernel: per super-block the exact integer total s (IQ1: of 8 q + delta), then
// r = (d * factor) * s and acc = fma(r, d_a, acc), one float per output.
float tiled_super_blocks(GgmlType type, int64_t n, const void* w, const void* act) {
    const detail::IqFormat format = detail::iq_format(type);
    const auto* y = static_cast<const BlockQ8_K*>(act);
    const bool shifted = format.kind == IqKind::Shifted;
    float acc = 0.0f;
    IqBlock x;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        detail::unpack_iq(type, w, b, x);
        int total = hsum8_i32(block_lanes(x, y[b]));
        if (shifted) {
            const int shifts = type == GgmlType::IQ1_M ? hsum8_i32(shift_lanes(x, y[b])) : shift_sum(x, y[b]);
            total = 8 * total + shifts;
        }
        const float r = (x.d * (shifted ? 0.125f : format.factor)) * static_cast<float>(total);
        acc = std::fma(r, y[b].d, acc);
    }
    return acc;
}

template <GgmlType T, bool kTiled>
float dot_super(int64_t n, const void* w, const void* a) {
    return kTiled ? tiled_super_blocks(T, n, w, a) : dot_super_blocks(T, n, w, a);
}

template <bool kTiled>
VecDotFn super_block_dot(GgmlType type) {
    switch (type) {
        case GgmlType::IQ4_XS: return dot_super<GgmlType::IQ4_XS, kTiled>;
        case GgmlType::IQ3_S: return dot_super<GgmlType::IQ3_S, kTiled>;
        case GgmlType::IQ3_XXS: return dot_super<GgmlType::IQ3_XXS, kTiled>;
        case GgmlType::IQ2_S: return dot_super<GgmlType::IQ2_S, kTiled>;
        case GgmlType::IQ2_XS: return dot_super<GgmlType::IQ2_XS, kTiled>;
        case GgmlType::IQ2_XXS: return dot_super<GgmlType::IQ2_XXS, kTiled>;
        case GgmlType::IQ1_M: return dot_super<GgmlType::IQ1_M, kTiled>;
        case GgmlType::IQ1_S: return dot_super<GgmlType::IQ1_S, kTiled>;
        case GgmlType::TQ1_0: return kTiled ? nullptr : dot_super<GgmlType::TQ1_0, false>;  // no tiled kernel
        case GgmlType::TQ2_0: return kTiled ? nullptr : dot_super<GgmlType::TQ2_0, false>;
        default: return nullptr;
    }
}

}  // namespace

float vec_dot_iq4_nl(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_NL*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    const int64_t nb = n / QK4_NL;
    __m256 acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        const __m256i p1 = dot_i8(iq4_nl_quants(x[b]), load32(y[b].qs));
        const __m256i p2 = dot_i8(iq4_nl_quants(x[b + 1]), load32(y[b + 1].qs));
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(y[b].d) * half_to_float(x[b].d)), _mm256_cvtepi32_ps(p1), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(y[b + 1].d) * half_to_float(x[b + 1].d)), _mm256_cvtepi32_ps(p2),
                               acc2);
    }
    float sum = hsum8(_mm256_add_ps(acc1, acc2));
    for (; b < nb; ++b) {
        const int sumi = hsum8_i32(dot_i8(iq4_nl_quants(x[b]), load32(y[b].qs)));
        sum = std::fma(half_to_float(y[b].d) * half_to_float(x[b].d), static_cast<float>(sumi), sum);
    }
    return sum;
}

VecDotFn vec_dot_iq_super_block(GgmlType type) { return super_block_dot<false>(type); }
VecDotFn tiled_dot_iq_super_block(GgmlType type) { return super_block_dot<true>(type); }

}  // namespace natter::avx2
