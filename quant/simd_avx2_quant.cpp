// AVX2 activation quantizers and dot products of the 32-element block formats, summed as
// llama.cpp's x86 backend sums them: each block's products go into 8 int32 lanes of 4
// consecutive elements, the lanes are scaled by d_w * d_a and accumulated with one fused
// multiply-add per block, and the 8 lanes are added at the end (hsum8). The offsets of
// Q4_1 / Q5_1 (m * s) are accumulated on the side in a scalar with fused multiply-adds.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"
#include "quant/simd_avx2.h"

namespace natter::avx2 {
namespace {

// Quantizes 32 floats to q = round_half_even(x * 127 / max|x|); returns d = max|x| / 127
// and, if asked, the sum of the q.
float quantize_q8_block(const float* x, int8_t qs[32], int* sum) {
    __m256 v[4];
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max = _mm_cvtss_f32(m);
    const __m256 scale = _mm256_set1_ps(max != 0.0f ? 127.0f / max : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 scaled = _mm256_mul_ps(v[k], scale);
        q[k] = _mm256_cvtps_epi32(_mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    if (sum) *sum = hsum8_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    // Narrow 32 -> 16 -> 8 bits; the packs work per 128-bit half, the permute restores order.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), q8);
    return max / 127.0f;
}

}  // namespace

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(dst);
    for (int64_t b = 0; b < n / QK8_0; ++b) y[b].d = fp32_to_fp16(quantize_q8_block(x + b * QK8_0, y[b].qs, nullptr));
}

// Q8_K (the k-quants' activations) as detail::quantize(x, BlockQ8_K&), ggml's
// quantize_row_q8_K_ref, bit for bit: the element of largest magnitude (the first of equals)
// sets iscale = -127 / max; q = min(127, round_half_even(iscale * x)); d = 1 / iscale. A
// block with a NaN or an infinity, or so small that iscale overflows, goes to the reference
// code, whose integer conversion of those is its own.
void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 finite_limit = _mm256_set1_ps(3.40282347e38f);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float* xb = x + b * QK_K;
        __m256 amax = _mm256_setzero_ps();
        __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for (int k = 0; k < QK_K / 8; ++k) {
            const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + 8 * k));
            amax = _mm256_max_ps(amax, a);
            finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, finite_limit, _CMP_LE_OQ));
        }
        if (_mm256_movemask_ps(finite) != 0xff) {
            detail::quantize(xb, y[b]);
            continue;
        }
        __m128 m = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float top = _mm_cvtss_f32(m);
        if (top == 0.0f) {
            std::memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        int j = 0;
        while (std::fabs(xb[j]) != top) ++j;
        const float iscale = -127.0f / xb[j];
        if (!std::isfinite(iscale)) {  // a block of subnormals: the scale overflows
            detail::quantize(xb, y[b]);
            continue;
        }
        const __m256 scale = _mm256_set1_ps(iscale);
        const __m256i limit = _mm256_set1_epi32(127);
        for (int k = 0; k < QK_K / 32; ++k) {
            __m256i q[4];
            for (int i = 0; i < 4; ++i) {
                const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(xb + 32 * k + 8 * i), scale);
                q[i] = _mm256_min_epi32(limit, _mm256_cvtps_epi32(_mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
            }
            const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
            const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
            const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + 32 * k), q8);
            // The two 16-element sums: bytes widened to int16 and added in pairs, then fours...
            const __m256i wide_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q8));
            const __m256i wide_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(q8, 1));
            y[b].bsums[2 * k] = static_cast<int16_t>(hsum8_i32(_mm256_madd_epi16(wide_lo, _mm256_set1_epi16(1))));
            y[b].bsums[2 * k + 1] = static_cast<int16_t>(hsum8_i32(_mm256_madd_epi16(wide_hi, _mm256_set1_epi16(1))));
        }
        y[b].d = 1 / iscale;
    }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_1*>(dst);
    for (int64_t b = 0; b < n / QK8_1; ++b) {
        int sum = 0;
        const float d = quantize_q8_block(x + b * QK8_1, y[b].qs, &sum);
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * static_cast<float>(sum));
    }
}

void quantize_row_f16(const float* x, void* dst, int64_t n) { fp32_to_fp16_row(x, static_cast<uint16_t*>(dst), n); }

void quantize_row_bf16(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}

namespace {

// The formats met with Q8_0: per block, acc = fma(d_w * d_a, lanes of q_w * q_a, acc).
// `quants` gives a block's 32 signed quants as bytes.
template <typename Block, typename Quants>
float dot_with_q8_0(int64_t n, const void* w, const void* a, Quants quants) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / Block::elements; ++b) {
        const __m256 d = _mm256_set1_ps(half_to_float(x[b].d) * half_to_float(y[b].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(quants(x[b]), load32(y[b].qs))), acc);
    }
    return hsum8(acc);
}

// The formats with an offset, met with Q8_1: the same with unsigned quants, plus
// m_w * s_a accumulated on the side with fused multiply-adds and added at the end.
template <typename Block, typename Quants>
float dot_with_q8_1(int64_t n, const void* w, const void* a, Quants quants) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t b = 0; b < n / Block::elements; ++b) {
        offsets = std::fma(half_to_float(x[b].m), half_to_float(y[b].s), offsets);
        const __m256 d = _mm256_set1_ps(half_to_float(x[b].d) * half_to_float(y[b].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_i8(quants(x[b]), load32(y[b].qs))), acc);
    }
    return hsum8(acc) + offsets;
}

}  // namespace

float vec_dot_q4_0(int64_t n, const void* w, const void* a) { return dot_with_q8_0<BlockQ4_0>(n, w, a, q4_0_quants); }
float tinyblas_dot_iq4_nl(int64_t n, const void* w, const void* a) {
    return dot_with_q8_0<BlockIQ4_NL>(n, w, a, iq4_nl_quants);
}
float vec_dot_q5_0(int64_t n, const void* w, const void* a) { return dot_with_q8_0<BlockQ5_0>(n, w, a, q5_0_quants); }
float vec_dot_q8_0(int64_t n, const void* w, const void* a) {
    return dot_with_q8_0<BlockQ8_0>(n, w, a, q8_0_quants);
}
float vec_dot_q4_1(int64_t n, const void* w, const void* a) {
    return dot_with_q8_1<BlockQ4_1>(n, w, a, q4_1_quants);
}
float vec_dot_q5_1(int64_t n, const void* w, const void* a) { return dot_with_q8_1<BlockQ5_1>(n, w, a, q5_1_quants); }

namespace {

// The repacked 8x8 GEMV/GEMM order: acc = fma(block integer sum, d_w * d_a, acc).
template <typename Block, typename Quants>
float repacked_dot(int64_t n, const void* w, const void* a, Quants quants) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / Block::elements; ++b) {
        const int sum = hsum8_i32(dot_i8(quants(x[b]), load32(y[b].qs)));
        acc = std::fma(static_cast<float>(sum), half_to_float(x[b].d) * half_to_float(y[b].d), acc);
    }
    return acc;
}

}  // namespace

float vec_dot_q4_0_repacked(int64_t n, const void* w, const void* a) {
    return repacked_dot<BlockQ4_0>(n, w, a, q4_0_quants);
}
float vec_dot_iq4_nl_repacked(int64_t n, const void* w, const void* a) {
    return repacked_dot<BlockIQ4_NL>(n, w, a, iq4_nl_quants);
}

}  // namespace natter::avx2
