// avx2::gemm_f32_fma (flash attention's tiled path: ggml's simd_gemm, every output one fused
// multiply-add per k, in order of k) with 16 columns to a ZMM vector: the same chain of
// roundings for every output, twice the outputs per instruction. Register blocks of R rows by
// 16 * RN columns keep their accumulators over the whole of k; the last columns go through
// masked loads and stores, the last rows through a block of their own height (quant/simd_gemm_rows.h).
#include "quant/simd_avx512.h"
#include "quant/simd_avx512_common.h"
#include "quant/simd_gemm_rows.h"

namespace natter::avx512 {
namespace {

template <int R, int RN>
void gemm_block(int k, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, __mmask16 last) {
    __m512 acc[R][RN];
    for (int i = 0; i < R; ++i) {
        for (int r = 0; r < RN; ++r) {
            acc[i][r] = r + 1 < RN ? _mm512_loadu_ps(c + i * ldc + 16 * r) : _mm512_maskz_loadu_ps(last, c + i * ldc + 16 * r);
        }
    }
    for (int kk = 0; kk < k; ++kk) {
        __m512 bv[RN];
        for (int r = 0; r < RN; ++r) {
            bv[r] = r + 1 < RN ? _mm512_loadu_ps(b + kk * ldb + 16 * r) : _mm512_maskz_loadu_ps(last, b + kk * ldb + 16 * r);
        }
        for (int i = 0; i < R; ++i) {
            const __m512 p = _mm512_set1_ps(a[i * lda + kk]);
            for (int r = 0; r < RN; ++r) acc[i][r] = _mm512_fmadd_ps(bv[r], p, acc[i][r]);
        }
    }
    for (int i = 0; i < R; ++i) {
        for (int r = 0; r < RN; ++r) {
            if (r + 1 < RN) _mm512_storeu_ps(c + i * ldc + 16 * r, acc[i][r]);
            else _mm512_mask_storeu_ps(c + i * ldc + 16 * r, last, acc[i][r]);
        }
    }
}

// Rows [0, R) of C: 64 columns at a time (R * 4 accumulators), then 16, then the rest masked.
template <int R>
void gemm_rows(int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    constexpr __mmask16 all = 0xffff;
    int j = 0;
    for (; j + 64 <= n; j += 64) gemm_block<R, 4>(k, a, lda, b + j, ldb, c + j, ldc, all);
    for (; j + 16 <= n; j += 16) gemm_block<R, 1>(k, a, lda, b + j, ldb, c + j, ldc, all);
    if (j < n) gemm_block<R, 1>(k, a, lda, b + j, ldb, c + j, ldc, static_cast<__mmask16>((1u << (n - j)) - 1));
}

}  // namespace

void gemm_f32_fma(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    gemm_row_blocks(m, [&]<int R>(int i) { gemm_rows<R>(k, n, a + i * lda, lda, b, ldb, c + i * ldc, ldc); });
}

}  // namespace natter::avx512
