// Q4_0 in llama.cpp's repacked GEMV/GEMM order with 16 weight rows as the 16 lanes of a ZMM
// vector and VNNI's vpdpbusd for the byte products: per block and row,
// acc = fma(sum (q - 8) * y, d_w * d_a, acc), as avx2's kernel with 8 rows as lanes
// (simd_avx2_tile.cpp). The unsigned nibbles give sum q * y, and 8 * sum y (the activation
// block's sum, formed once per tile call) takes the offset off: the same integers.
//
// A batch of 16+ activation rows first copies the tile's rows into a per-tile buffer laid out
// for the kernel (elements 4k..4k+3 of the 16 rows side by side: one 64-byte load per group),
// so that every activation row runs over rows already unpacked (rows16_copy_q4_0, in
// simd_avx512_fast.cpp, whose order this is); a smaller batch (generation)
// reads the rows in place and transposes them in registers. Rows packed at load
// (quant/packed.h, tile_q4_0_packed) are already in the kernel's order: generation reads them
// as they are, and a batch's copy only widens their nibbles.
#include "quant/simd_avx512_common.h"  // first: the intrinsics, with GCC's false warnings off

#include <vector>

#include "quant/blocks.h"
#include "quant/packed.h"
#include "quant/simd_avx512.h"

namespace natter {
namespace avx2 {  // simd_avx2.h: the form for the rows the 16-row groups leave over, the block sums
void tile_q4_0_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                        size_t os);
void q8_0_block_sums(int64_t nb, const void* act, int32_t* sums);
}  // namespace avx2

namespace avx512 {
namespace {

// The 16 rows of a group read in place, for batches too small for the copy (generation):
// block b's quants transposed in registers, as simd_rows8.h's load_q4_0_rows8 does for 8
// (128-bit lane j of t[r] holds row r + 4j, so after the unpacks 32-bit lane l of groups[k]
// is row l).
struct InPlaceRows {
    const uint8_t* w;
    size_t ws;
    void load(int64_t b, __m512i groups[4], __m512& dw) const {
        const BlockQ4_0* x[16];
        for (int r = 0; r < 16; ++r) {
            x[r] = reinterpret_cast<const BlockQ4_0*>(w + r * ws) + b;
            _mm_prefetch(reinterpret_cast<const char*>(x[r]) + 16 * ws, _MM_HINT_T0);  // the next group's row r
        }
        __m512i t[4];
        for (int r = 0; r < 4; ++r) {
            const auto row = [&](int i) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i]->qs)); };
            t[r] = _mm512_inserti32x4(_mm512_castsi128_si512(row(r)), row(r + 4), 1);
            t[r] = _mm512_inserti32x4(t[r], row(r + 8), 2);
            t[r] = _mm512_inserti32x4(t[r], row(r + 12), 3);
        }
        const __m512i u0 = _mm512_unpacklo_epi32(t[0], t[1]), u1 = _mm512_unpackhi_epi32(t[0], t[1]);
        const __m512i u2 = _mm512_unpacklo_epi32(t[2], t[3]), u3 = _mm512_unpackhi_epi32(t[2], t[3]);
        groups[0] = _mm512_unpacklo_epi64(u0, u2);
        groups[1] = _mm512_unpackhi_epi64(u0, u2);
        groups[2] = _mm512_unpacklo_epi64(u1, u3);
        groups[3] = _mm512_unpackhi_epi64(u1, u3);
        dw = _mm512_cvtph_ps(_mm256_setr_epi16(
            static_cast<short>(x[0]->d), static_cast<short>(x[1]->d), static_cast<short>(x[2]->d), static_cast<short>(x[3]->d),
            static_cast<short>(x[4]->d), static_cast<short>(x[5]->d), static_cast<short>(x[6]->d), static_cast<short>(x[7]->d),
            static_cast<short>(x[8]->d), static_cast<short>(x[9]->d), static_cast<short>(x[10]->d), static_cast<short>(x[11]->d),
            static_cast<short>(x[12]->d), static_cast<short>(x[13]->d), static_cast<short>(x[14]->d), static_cast<short>(x[15]->d)));
    }
};

// A group of 16 rows in the packed layout (quant/packed.h): already in that order.
struct PackedRows {
    const PackedQ4_0* p;
    int prefetch;
    void load(int64_t b, __m512i groups[4], __m512& dw) const {
        const char* next = reinterpret_cast<const char*>(&p[b]) + prefetch;
        for (int off = 0; off < static_cast<int>(sizeof(PackedQ4_0)) + 63; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
        for (int k = 0; k < 4; ++k) groups[k] = load64(p[b].q[k]);
        dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[b].d)));
    }
};

// 16 Q4_0 rows (the lanes) x A activation rows in the repacked order: per block
// acc = fma(sum (q - 8) * y, d_w * d_a, acc), the integer sum formed as sum q * y minus
// 8 * sum y.
template <int A, typename Rows>
void q4_0_rows16(int64_t nb, Rows rows, const BlockQ8_0* const* y, const int32_t* y_sums, size_t sums_stride, float* out,
                 size_t os) {
    __m512 acc[A];
    for (int a = 0; a < A; ++a) acc[a] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = 0; b < nb; ++b) {
        __m512i groups[4];
        __m512 dw;
        rows.load(b, groups, dw);
        __m512i dot[A];
        for (int a = 0; a < A; ++a) dot[a] = _mm512_set1_epi32(-8 * y_sums[a * sums_stride + b]);
        for (int k = 0; k < 4; ++k) {
            const __m512i lo = _mm512_and_si512(groups[k], m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(groups[k], 4), m4);
            for (int a = 0; a < A; ++a) {
                dot[a] = _mm512_dpbusd_epi32(dot[a], lo, broadcast4(y[a][b].qs + 4 * k));
                dot[a] = _mm512_dpbusd_epi32(dot[a], hi, broadcast4(y[a][b].qs + 16 + 4 * k));
            }
        }
        for (int a = 0; a < A; ++a) {
            const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(half_to_float(y[a][b].d)));
            acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[a]), d, acc[a]);
        }
    }
    for (int a = 0; a < A; ++a) _mm512_storeu_ps(out + a * os, acc[a]);
}

// Every activation row over n_groups groups of 16 rows, A at a time (group g's rows from
// group(g)), with the activation blocks' sums formed once.
template <int A, typename Group>
void q4_0_groups(int64_t n, int n_groups, Group group, const void* act, size_t as, int n_acts, float* out, size_t os) {
    const int64_t nb = n / QK4_0;
    const auto* a0 = static_cast<const uint8_t*>(act);
    thread_local std::vector<int32_t> y_sums;
    y_sums.resize(static_cast<size_t>(n_acts * nb));
    for (int a = 0; a < n_acts; ++a) avx2::q8_0_block_sums(nb, a0 + a * as, &y_sums[a * nb]);
    auto run = [&]<int M>(int a) {
        const BlockQ8_0* y[M];
        for (int i = 0; i < M; ++i) y[i] = reinterpret_cast<const BlockQ8_0*>(a0 + (a + i) * as);
        for (int g = 0; g < n_groups; ++g) q4_0_rows16<M>(nb, group(g), y, &y_sums[a * nb], nb, out + a * os + 16 * g, os);
    };
    int a = 0;
    for (; a + A <= n_acts; a += A) run.template operator()<A>(a);
    for (; a < n_acts; ++a) run.template operator()<1>(a);
}

// The tile's 16-row groups: a batch of kCopyActs+ activation rows through rows16_copy_q4_0 (the
// rows copied once, as unsigned bytes), fewer read in place, 4 activation rows at a time.
void q4_0_rows16_tile(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                      size_t os) {
    if (n_acts >= kCopyActs) {
        rows16_copy_q4_0(n, w, ws, n_groups, act, as, n_acts, out, os);
        return;
    }
    const auto* w0 = static_cast<const uint8_t*>(w);
    q4_0_groups<4>(n, n_groups, [&](int g) { return InPlaceRows{w0 + 16 * g * ws, ws}; }, act, as, n_acts, out, os);
}

}  // namespace

void tile_q4_0_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts,
                        float* out, size_t os) {
    const int groups = n_rows / 16;
    if (groups > 0) q4_0_rows16_tile(n, w, ws, groups, act, as, n_acts, out, os);
    const int done = 16 * groups;
    if (done == n_rows) return;
    // The rows past the last 16 (llama.cpp repacks only multiples of 8) as the AVX2 kernel does.
    avx2::tile_q4_0_repacked(n, static_cast<const uint8_t*>(w) + done * ws, ws, n_rows - done, act, as, n_acts, out + done,
                             os);
}

void tile_q4_0_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* act, size_t as, int n_acts, float* out,
                      size_t os) {
    if (n_acts >= kCopyActs) {
        rows16_copy_q4_0_packed(n, w, ws, n_rows / 16, act, as, n_acts, out, os);
        return;
    }
    // Already in the kernel's order: no copy for a small batch.
    const int prefetch = kPackedPrefetchBytes;
    const auto* w0 = static_cast<const uint8_t*>(w);
    q4_0_groups<4>(n, n_rows / 16, [&](int g) { return PackedRows{reinterpret_cast<const PackedQ4_0*>(w0 + 16 * g * ws), prefetch}; }, act,
                   as, n_acts, out, os);
}

}  // namespace avx512
}  // namespace natter
