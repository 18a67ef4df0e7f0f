// AVX2 kernels of ggml-cpu's flash attention (ggml_compute_forward_flash_attn_ext_f16): the
// F16 accumulator of one query row (ggml_vec_mad_f16 and ggml_vec_scale_f16: each element
// widened, fused-multiplied-added or multiplied, rounded back to F16) and the F32 GEMM of its
// tiled path (simd_gemm: every output one fused multiply-add per k, in order of k).
#include <cmath>

#include "quant/quant.h"
#include "quant/simd_avx2.h"
#include "quant/simd_gemm_rows.h"

namespace natter::avx2 {
namespace {

__m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
void store_f16(uint16_t* p, __m256 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

// Rows [i, i + R) of C, columns [j, j + 8 * RN): accumulators in registers over all of k.
template <int R, int RN>
void gemm_block(int k, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    __m256 acc[R][RN];
    for (int i = 0; i < R; ++i) {
        for (int r = 0; r < RN; ++r) acc[i][r] = _mm256_loadu_ps(c + i * ldc + 8 * r);
    }
    for (int kk = 0; kk < k; ++kk) {
        __m256 bv[RN];
        for (int r = 0; r < RN; ++r) bv[r] = _mm256_loadu_ps(b + kk * ldb + 8 * r);
        for (int i = 0; i < R; ++i) {
            const __m256 p = _mm256_set1_ps(a[i * lda + kk]);
            for (int r = 0; r < RN; ++r) acc[i][r] = _mm256_fmadd_ps(bv[r], p, acc[i][r]);
        }
    }
    for (int i = 0; i < R; ++i) {
        for (int r = 0; r < RN; ++r) _mm256_storeu_ps(c + i * ldc + 8 * r, acc[i][r]);
    }
}

template <int R>
void gemm_rows(int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    int j = 0;
    for (; j + 16 <= n; j += 16) gemm_block<R, 2>(k, a, lda, b + j, ldb, c + j, ldc);
    for (; j + 8 <= n; j += 8) gemm_block<R, 1>(k, a, lda, b + j, ldb, c + j, ldc);
    for (; j < n; ++j) {
        for (int i = 0; i < R; ++i) {
            float s = c[i * ldc + j];
            for (int kk = 0; kk < k; ++kk) s = std::fma(a[i * lda + kk], b[kk * ldb + j], s);
            c[i * ldc + j] = s;
        }
    }
}

}  // namespace

void mad_f16(int64_t n, uint16_t* y, const uint16_t* x, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store_f16(y + i, _mm256_fmadd_ps(load_f16(x + i), vv, load_f16(y + i)));
    for (; i < n; ++i) y[i] = fp32_to_fp16(std::fma(half_to_float(x[i]), v, half_to_float(y[i])));
}

void mad_f16_widened(int64_t n, uint16_t* y, const float* x, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store_f16(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vv, load_f16(y + i)));
    for (; i < n; ++i) y[i] = fp32_to_fp16(std::fma(x[i], v, half_to_float(y[i])));
}

void scale_f16(int64_t n, uint16_t* y, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store_f16(y + i, _mm256_mul_ps(load_f16(y + i), vv));
    for (; i < n; ++i) y[i] = fp32_to_fp16(half_to_float(y[i]) * v);
}

void gemm_f32_fma(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    gemm_row_blocks(m, [&]<int R>(int i) { gemm_rows<R>(k, n, a + i * lda, lda, b, ldb, c + i * ldc, ldc); });
}

}  // namespace natter::avx2
