#pragma once
// Internal to quant/simd_avx2_*.cpp, which alone are compiled with -mavx2 -mfma -mf16c:
// the AVX2 kernels and the small building blocks they share. Every operation that rounds is
// spelled out (the files are compiled with -ffp-contract=off), because the point of these
// kernels is to round exactly where llama.cpp's x86 kernels round.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/iq_tables.h"
#include "quant/kernels.h"

namespace natter::avx2 {

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// The sum of 8 floats the way ggml's x86 code adds them: upper half plus lower half, then
// lanes (0+2) and (1+3), then those two.
inline float hsum8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// Exact integer sum of 8 int32 lanes.
inline int hsum8_i32(__m256i v) {
    __m128i r = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(r);
}

// How far ahead the kernels with 8 weight rows as lanes prefetch each row: 8 neighbouring rows
// are one stream, and prefetching a whole row group ahead keeps memory busy (Q4_0 generation,
// 1B model, Zen: 15 t/s at 2.3 KiB, 17.8 at 6.9 KiB, 20 at 12 to 18 KiB).
constexpr int kRows8PrefetchBytes = 12 * 1024;

// Four bytes at p in every 32-bit lane.
inline __m256i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
}

// Products of unsigned bytes u with signed bytes s, summed in fours: int32 lane k holds
// u[4k]s[4k] + ... + u[4k+3]s[4k+3]. (Pairs are first added in int16, which cannot
// overflow for the quants used here.)
inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// The same for two signed byte vectors (|x| moved into the unsigned operand).
inline __m256i dot_i8(__m256i x, __m256i y) {
    return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// 32 nibbles as bytes 0..15: the low nibbles of the 16 bytes first, then the high ones.
inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Byte j is 0xff where bit j of the 32-bit little-endian word at bits is set, else 0.
inline __m256i bits_to_bytes(const uint8_t* bits) {
    uint32_t word;
    std::memcpy(&word, bits, sizeof(word));
    // Byte j of the result starts as the byte of `word` that holds bit j...
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(word)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    // ...then every other bit is set: the byte is all ones exactly when bit j was set.
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
}

// The 32 quants of a block as bytes: signed for the formats met with Q8_0 (q - 8, q - 16,
// q), unsigned (0..15, 0..31) for those with an offset, met with Q8_1.
inline __m256i q4_0_quants(const BlockQ4_0& x) { return _mm256_sub_epi8(unpack_nibbles(x.qs), _mm256_set1_epi8(8)); }
// q - 16 as a byte: the high nibble is 0xf0 (negative) where the fifth bit is clear.
inline __m256i q5_0_quants(const BlockQ5_0& x) {
    const __m256i high = _mm256_andnot_si256(bits_to_bytes(x.qh), _mm256_set1_epi8(static_cast<char>(0xf0)));
    return _mm256_or_si256(unpack_nibbles(x.qs), high);
}
inline __m256i q8_0_quants(const BlockQ8_0& x) { return load32(x.qs); }
// The 32 values of 16 IQ4_NL index bytes (IQ4_XS groups too), in element order.
inline __m256i iq4_nl_values(const uint8_t* qs) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(detail::kIq4nlValues));
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(bits, 4), m4)),
                            _mm_shuffle_epi8(table, _mm_and_si128(bits, m4)));
}
inline __m256i iq4_nl_quants(const BlockIQ4_NL& x) { return iq4_nl_values(x.qs); }
inline __m256i q4_1_quants(const BlockQ4_1& x) { return unpack_nibbles(x.qs); }
inline __m256i q5_1_quants(const BlockQ5_1& x) {
    return _mm256_or_si256(unpack_nibbles(x.qs), _mm256_and_si256(bits_to_bytes(x.qh), _mm256_set1_epi8(0x10)));
}

// ggml's vectorised expf for AVX2 (the ARM optimized-routines algorithm): a degree-5
// polynomial on the reduced argument, scaled by 2^n built in the exponent bits, with a
// separate path for |n| > 126 (overflow to infinity, underflow to zero).
__m256 expf8(__m256 x);

// Q8 activation quantizers (the CPU backend's: q = round_half_even(x * 127 / max|x|)).
void quantize_row_q8_0(const float* x, void* dst, int64_t n);
void quantize_row_q8_1(const float* x, void* dst, int64_t n);
void quantize_row_q8_k(const float* x, void* dst, int64_t n);
void quantize_row_f16(const float* x, void* dst, int64_t n);
void quantize_row_bf16(const float* x, void* dst, int64_t n);

// ggml_vec_dot_*: one activation row. tinyBLAS sums Q8_0, Q4_0 and Q5_0 in the same order.
float vec_dot_q4_0(int64_t n, const void* w, const void* a);
float vec_dot_q4_1(int64_t n, const void* w, const void* a);
float vec_dot_q5_0(int64_t n, const void* w, const void* a);
float vec_dot_q5_1(int64_t n, const void* w, const void* a);
float vec_dot_q8_0(int64_t n, const void* w, const void* a);
// Q4_0 as llama.cpp's repacked 8x8 GEMV/GEMM sums it: one float per output row,
// acc = fma(block integer dot, d_w * d_a, acc) block after block.
float vec_dot_q4_0_repacked(int64_t n, const void* w, const void* a);
// IQ4_NL (simd_avx2_iq.cpp): ggml's vec_dot, and its repacked GEMV/GEMM order (as Q4_0's).
float vec_dot_iq4_nl(int64_t n, const void* w, const void* a);
float vec_dot_iq4_nl_repacked(int64_t n, const void* w, const void* a);
// tinyBLAS's order (simd_avx2_quant.cpp): as vec_dot_q4_0, one accumulator.
float tinyblas_dot_iq4_nl(int64_t n, const void* w, const void* a);
// The vec_dot of an IQ or ternary super-block type (quant/iq.h), or nullptr for another type.
VecDotFn vec_dot_iq_super_block(GgmlType type);
// The tiled kernel's order for IQ4_XS, IQ3_*, IQ2_*, IQ1_* (nullptr for another type).
VecDotFn tiled_dot_iq_super_block(GgmlType type);

float vec_dot_q2_k(int64_t n, const void* w, const void* a);
float vec_dot_q3_k(int64_t n, const void* w, const void* a);
float vec_dot_q4_k(int64_t n, const void* w, const void* a);
float vec_dot_q5_k(int64_t n, const void* w, const void* a);
float vec_dot_q6_k(int64_t n, const void* w, const void* a);
// The tiled k-quant kernel's order (prompt batches of 8 or more rows).
float tiled_dot_q2_k(int64_t n, const void* w, const void* a);
float tiled_dot_q3_k(int64_t n, const void* w, const void* a);
float tiled_dot_q4_k(int64_t n, const void* w, const void* a);
float tiled_dot_q5_k(int64_t n, const void* w, const void* a);
float tiled_dot_q6_k(int64_t n, const void* w, const void* a);
// Q4_K as the repacked 8x8 GEMV (one row) and GEMM (rows in groups of 4) sum it.
float vec_dot_q4_k_repacked(int64_t n, const void* w, const void* a);
float vec_dot_q4_k_repacked_gemm(int64_t n, const void* w, const void* a);

// Float rows: ggml_vec_dot_* (four 8-lane accumulators) and tinyBLAS (one).
float vec_dot_f32(int64_t n, const void* w, const void* a);
float vec_dot_f16(int64_t n, const void* w, const void* a);
float vec_dot_bf16(int64_t n, const void* w, const void* a);
float tinyblas_dot_f32(int64_t n, const void* w, const void* a);
float tinyblas_dot_f16(int64_t n, const void* w, const void* a);
float tinyblas_dot_bf16(int64_t n, const void* w, const void* a);
// tinyblas_dot_f16 of n_rows rows of x (stride elements apart) with y into out[0..n_rows).
void tinyblas_dot_f16_rows(int64_t n, const uint16_t* x, size_t stride, int n_rows, const uint16_t* y, float* out);
// vec_dot_f16 with y already widened to floats (every y[i] an F16 value), bit for bit.
float vec_dot_f16_widened_y(int64_t n, const uint16_t* x, const float* y);
float vec_dot_f16_widened(int64_t n, const float* x, const float* y);
// out[r] = vec_dot_f16_widened_y(n, x + r * x_stride, y), bit for bit: rows 8 at a time, their
// final horizontal sums done together.
void vec_dot_f16_rows_widened_y(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const float* y, float* out);
void tinyblas_dot_f16_rows_widened(int64_t n, const float* x, size_t stride, int n_rows, const float* y, float* out);

// Tiles of those dot products (TileDotFn in quant/kernels.h), bit for bit the kernels above.
void tile_q4_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
// The same with the lanes in two 128-bit halves wherever it helps (simd_avx2_gemv.cpp).
void tile_q4_1_halves(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
void tile_q8_0_halves(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
void tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q4_0_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                        size_t os);
void tile_q4_k_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                        size_t os);
void tile_q4_k_repacked_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                             float* out, size_t os);
// 8-row groups [0, 8 * n_groups) of a Q4_K tile in the repacked GEMM (gemm) or GEMV order.
void tile_q4_k_rows8(int64_t n, const void* w, size_t ws, int n_groups, const void* a, size_t as, int n_acts, float* out,
                     size_t os, bool gemm);
// tile_q4_0_repacked on rows packed at load (quant/packed.h: w the packed rows, ws =
// packed_row_bytes, n_rows a multiple of 16), bit for bit: each group's two halves of 8 rows
// as the lanes, read with plain loads. (No packed Q4_K form for AVX2: on an Intel Xeon with
// NATTER_KERNELS=avx2 one was slower than the rows read in place, 1B Q4_K_M tg 21.9 against
// 23.0 t/s.)
void tile_q4_0_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
// 8-row groups [0, 8 * n_groups) of a Q6_K tile in the tiled k-quant order.
void tile_q6_k_rows8(int64_t n, const void* w, size_t ws, int n_groups, const void* a, size_t as, int n_acts, float* out,
                     size_t os);
void tile_q6_k(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q6_k_tiled(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                     size_t os);

// One activation row times n_rows weight rows (token generation), out[r] = the one-row
// kernel of row r, bit for bit; kHalves: the lanes as two 128-bit halves (simd_avx2_gemv.cpp).
template <bool kHalves>
void gemv_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out);
template <bool kHalves>
void gemv_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out);
void gemv_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out);
void gemv_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* act, float* out);
// sums[b] = the sum of the quants of Q8_0 block b of an activation row (n / 32 blocks).
void q8_0_block_sums(int64_t nb, const void* act, int32_t* sums);
// True on CPUs that execute each 256-bit operation as two 128-bit ones (AMD Zen 1 and Zen+).
bool splits_256_bit_ops();

void fp32_to_fp16_row(const float* x, uint16_t* dst, int64_t n);
void fp16_to_fp32_row(const uint16_t* x, float* dst, int64_t n);
double softmax_exp(int64_t n, float* y, const float* x, float max);
void swiglu(int64_t n, const float* gate, const float* up, float* out);
// Flash attention (simd_avx2_attention.cpp).
void mad_f16(int64_t n, uint16_t* y, const uint16_t* x, float v);
void mad_f16_widened(int64_t n, uint16_t* y, const float* x, float v);
void scale_f16(int64_t n, uint16_t* y, float v);
void gemm_f32_fma(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc);

}  // namespace natter::avx2
