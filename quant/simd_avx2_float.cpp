// AVX2 float kernels: dot products of F32 / F16 / BF16 rows in the two orders llama.cpp uses
// (ggml_vec_dot_*: four 8-lane accumulators, tinyBLAS: one), ggml's vectorised expf and the
// softmax and SwiGLU built on it, and F32 -> F16 rows.
#include <cmath>

#include "quant/quant.h"
#include "quant/simd_avx2.h"

namespace natter::avx2 {
namespace {

// GGML_F32x8_REDUCE's last step: lower half plus upper half, then two horizontal adds,
// i.e. (a0 + a1) + (a2 + a3). (hsum8 pairs the lanes the other way.)
float hsum8_hadd(__m256 v) {
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

__m256 load_f32(const float* p) { return _mm256_loadu_ps(p); }
__m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
__m256 load_bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// The ggml_vec_dot_f32 / _f16 loop: 32 elements per step into four accumulators, which are
// then added as (0 + 2) + (1 + 3) and reduced with hsum8_hadd. Returns the elements done.
// x and y may come in different forms (halves, and halves already widened to floats).
template <typename TX, typename TY, typename LoadX, typename LoadY>
int64_t dot_four_accumulators(int64_t n, const TX* x, const TY* y, LoadX load_x, LoadY load_y, float& sum) {
    const int64_t steps = n & ~int64_t{31};
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < steps; i += 32) {
        for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(load_x(x + i + 8 * j), load_y(y + i + 8 * j), acc[j]);
    }
    acc[0] = _mm256_add_ps(acc[0], acc[2]);
    acc[1] = _mm256_add_ps(acc[1], acc[3]);
    sum = hsum8_hadd(_mm256_add_ps(acc[0], acc[1]));
    return steps;
}

template <typename T, typename Load>
int64_t dot_four_accumulators(int64_t n, const T* x, const T* y, Load load, float& sum) {
    return dot_four_accumulators(n, x, y, load, load, sum);
}

// tinyBLAS: one 8-lane accumulator over the whole row (n is a multiple of 8 there), hsum8.
template <typename T, typename Load>
float dot_one_accumulator(int64_t n, const T* x, const T* y, Load load) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(load(x + i), load(y + i), acc);
    return hsum8(acc);
}

}  // namespace

float vec_dot_f32(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const float*>(w);
    const auto* y = static_cast<const float*>(a);
    float sum = 0.0f;
    int64_t i = dot_four_accumulators(n, x, y, load_f32, sum);
    // llama.cpp's compiled leftover loop adds rounded products four at a time while at
    // least four remain, and fuses the last (leftover % 4) products into the sum.
    const int64_t quads_end = i + (n - i) / 4 * 4;
    for (; i < quads_end; ++i) sum += x[i] * y[i];
    for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
    return sum;
}

float vec_dot_f16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    float vector_sum = 0.0f;
    int64_t i = dot_four_accumulators(n, x, y, load_f16, vector_sum);
    double sum = vector_sum;
    for (; i < n; ++i) sum += static_cast<double>(half_to_float(x[i]) * half_to_float(y[i]));
    return static_cast<float>(sum);
}

float vec_dot_f16_widened_y(int64_t n, const uint16_t* x, const float* y) {
    float vector_sum = 0.0f;
    int64_t i = dot_four_accumulators(n, x, y, load_f16, load_f32, vector_sum);
    double sum = vector_sum;
    for (; i < n; ++i) sum += static_cast<double>(half_to_float(x[i]) * y[i]);
    return static_cast<float>(sum);
}

float vec_dot_f16_widened(int64_t n, const float* x, const float* y) {
    float vector_sum = 0.0f;
    int64_t i = dot_four_accumulators(n, x, y, load_f32, vector_sum);
    double sum = vector_sum;
    for (; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
    return static_cast<float>(sum);
}

namespace {

// hsum8_hadd of 8 vectors at once: out lane i = hsum8_hadd(v[i]). Each row's lanes are added
// in hsum8_hadd's grouping, lower half plus upper half, then (a0 + a1) + (a2 + a3): the
// 128-bit halves of two rows are added in one operation, and two rounds of horizontal adds on
// four such pairs give every row's sum, lanes 0 2 4 6 1 3 5 7.
__m256 hsum8_hadd_rows8(const __m256 v[8]) {
    __m256 pair[4];
    for (int i = 0; i < 4; ++i) {
        pair[i] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20),
                                _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
    }
    const __m256 sums = _mm256_hadd_ps(_mm256_hadd_ps(pair[0], pair[1]), _mm256_hadd_ps(pair[2], pair[3]));
    return _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void vec_dot_f16_rows_widened_y(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const float* y, float* out) {
    int r = 0;
    if (n % 32 == 0) {  // with a tail, each row adds its tail in double after its own sum
        for (; r + 8 <= n_rows; r += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; ++i) {
                const uint16_t* row = x + static_cast<size_t>(r + i) * x_stride;
                __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                for (int64_t k = 0; k < n; k += 32) {
                    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(load_f16(row + k + 8 * j), load_f32(y + k + 8 * j), acc[j]);
                }
                v[i] = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
            }
            _mm256_storeu_ps(out + r, hsum8_hadd_rows8(v));
        }
    }
    for (; r < n_rows; ++r) out[r] = vec_dot_f16_widened_y(n, x + static_cast<size_t>(r) * x_stride, y);
}

float vec_dot_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(load_bf16(x + i + 8 * j), load_bf16(y + i + 8 * j), acc[j]);
    }
    double sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3])));
    for (; i < n; ++i) sum += static_cast<double>(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
    return static_cast<float>(sum);
}

float tinyblas_dot_f32(int64_t n, const void* w, const void* a) {
    return dot_one_accumulator(n, static_cast<const float*>(w), static_cast<const float*>(a), load_f32);
}

float tinyblas_dot_f16(int64_t n, const void* w, const void* a) {
    return dot_one_accumulator(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a), load_f16);
}

// Eight rows at a time, each with its own accumulator: one accumulator alone waits on its
// fused multiply-add's latency at every step, eight independent ones keep both FMA units busy.
template <typename T, typename Load>
void tinyblas_rows(int64_t n, const T* x, size_t stride, int n_rows, const T* y, float* out, Load load) {
    constexpr int R = 8;
    int r = 0;
    for (; r + R <= n_rows; r += R) {
        __m256 acc[R];
        for (int k = 0; k < R; ++k) acc[k] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n; i += 8) {
            const __m256 yv = load(y + i);
            for (int k = 0; k < R; ++k) acc[k] = _mm256_fmadd_ps(load(x + (r + k) * stride + i), yv, acc[k]);
        }
        for (int k = 0; k < R; ++k) out[r + k] = hsum8(acc[k]);
    }
    for (; r < n_rows; ++r) out[r] = dot_one_accumulator(n, x + r * stride, y, load);
}

void tinyblas_dot_f16_rows(int64_t n, const uint16_t* x, size_t stride, int n_rows, const uint16_t* y, float* out) {
    tinyblas_rows(n, x, stride, n_rows, y, out, load_f16);
}

// The same on halves widened to floats beforehand: every product and sum is the same.
void tinyblas_dot_f16_rows_widened(int64_t n, const float* x, size_t stride, int n_rows, const float* y, float* out) {
    tinyblas_rows(n, x, stride, n_rows, y, out, load_f32);
}

float tinyblas_dot_bf16(int64_t n, const void* w, const void* a) {
    return dot_one_accumulator(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a), load_bf16);
}

void fp16_to_fp32_row(const uint16_t* x, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(x + i));
    for (; i < n; ++i) dst[i] = half_to_float(x[i]);
}

void fp32_to_fp16_row(const float* x, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) dst[i] = fp32_to_fp16(x[i]);
}

__m256 expf8(__m256 x) {
    // x = n ln2 + r with n = round(x / ln2) (via the 1.5 * 2^23 shifter) and ln2 split in two.
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);
    const __m256 n = _mm256_sub_ps(z, shifter);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    // 2^n from the integer in z's low mantissa bits.
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 scale = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256i large = _mm256_castps_si256(_mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ));
    // exp(r) - 1 as a polynomial in r.
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 high = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r, _mm256_set1_ps(0x1.573e2ep-5f));
    const __m256 low = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r, _mm256_set1_ps(0x1.fffdb6p-2f));
    const __m256 poly = _mm256_fmadd_ps(_mm256_fmadd_ps(high, r2, low), r2,
                                        _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), r));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(large))) return _mm256_fmadd_ps(poly, scale, scale);
    // |n| > 126: 2^n does not fit one float, so it is applied as the product of two.
    const __m256i bias = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                          _mm256_set1_epi32(static_cast<int>(0x82000000u)));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(bias, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, bias));
    const __m256i huge = _mm256_castps_si256(_mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ));
    const __m256 split = _mm256_mul_ps(_mm256_fmadd_ps(s2, poly, s2), s1);
    const __m256 normal = _mm256_fmadd_ps(scale, poly, scale);
    const __m256 finite = _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(large), split),
                                       _mm256_andnot_ps(_mm256_castsi256_ps(large), normal));
    return _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(huge), _mm256_mul_ps(s1, s1)),
                        _mm256_andnot_ps(_mm256_castsi256_ps(huge), finite));
}

double softmax_exp(int64_t n, float* y, const float* x, float max) {
    int64_t i = 0;
    double sum = 0.0;
    const __m256 vmax = _mm256_set1_ps(max);
    for (; i + 8 <= n; i += 8) {
        const __m256 e = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(y + i, e);
        sum += static_cast<double>(hsum8(e));
    }
    for (; i < n; ++i) {
        y[i] = std::exp(x[i] - max);
        sum += static_cast<double>(y[i]);
    }
    return sum;
}

void swiglu(int64_t n, const float* gate, const float* up, float* out) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, expf8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace natter::avx2
