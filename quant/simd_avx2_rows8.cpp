// Batch kernels with eight weight rows as the eight lanes of a vector, on a small per-tile
// interleaved copy of those rows, for the k-quants of prompt evaluation.
//
// The weights stay in place in the mmap; a tile call copies the rows it is about to use (a
// few dozen rows, L2-sized) into a thread-local buffer laid out for the kernel, and every
// activation row of the batch then runs over that copy. In the copy, 4 consecutive elements
// of the 8 rows sit side by side (32 bytes, quants already unpacked to bytes), so one
// maddubs with those 4 elements of an activation row broadcast to all lanes forms 8 rows'
// products at once, and a row's products stay in that row's lanes: they add up vertically
// across a whole scale group before one madd applies the 8 rows' scales. No horizontal sums,
// no shuffles, and about 9 multiplies per 8 rows x 32 elements instead of 16.
//
// Integer sums are exact however they are grouped (the int16 lanes cannot overflow: at most
// 16 products of |q| <= 15 with |y| <= 128 for Q4_K), and the float steps of each output are
// those of llama.cpp's repacked Q4_K GEMM/GEMV, lane by lane (simd_avx2_kquant.cpp has the
// one-output forms they are tested against).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/simd_avx2.h"
#include "quant/unpack.h"

namespace natter::avx2 {
namespace {

// Batches of at least this many activation rows use the per-tile copy.
constexpr int kCopyActs = 16;

// One super-block of 8 Q4_K rows in the copy. Quants: for chunk c (32 elements) and group k
// (elements 4k..4k+3 of the chunk), 32 bytes, row r at 4r. Scales: for chunk c, int16 pairs
// (scale_r, scale_r). Mins: for chunk pair p, int16 pairs (min_r(2p), min_r(2p+1)). Then the
// 8 rows' d and dmin as floats.
struct Q4kRows8 {
    uint8_t q[8][8][32];
    int16_t scales[8][16];
    int16_t mins[4][16];
    float d[8];
    float dmin[8];
};

// Puts row r's 32 quant bytes of one chunk (already unpacked) into the copy's groups of 4.
void scatter_chunk(__m256i bytes, uint8_t (*groups)[32], int r) {
    alignas(32) uint8_t v[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), bytes);
    for (int k = 0; k < 8; ++k) std::memcpy(&groups[k][4 * r], &v[4 * k], 4);
}

void interleave_q4_k(const uint8_t* w, size_t ws, int64_t nb, Q4kRows8* dst) {
    for (int r = 0; r < 8; ++r) {
        const auto* x = reinterpret_cast<const BlockQ4_K*>(w + r * ws);
        for (int64_t b = 0; b < nb; ++b) {
            Q4kRows8& s = dst[b];
            s.d[r] = half_to_float(x[b].d);
            s.dmin[r] = half_to_float(x[b].dmin);
            for (int c = 0; c < 8; ++c) {
                int scale = 0, min = 0;
                detail::k4_scale_min(x[b].scales, c, scale, min);
                s.scales[c][2 * r] = s.scales[c][2 * r + 1] = static_cast<int16_t>(scale);
                s.mins[c / 2][2 * r + c % 2] = static_cast<int16_t>(min);
            }
            for (int p = 0; p < 4; ++p) {
                const __m256i bits = load32(x[b].qs + 32 * p);
                scatter_chunk(_mm256_and_si256(bits, _mm256_set1_epi8(15)), s.q[2 * p], r);
                scatter_chunk(_mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(15)), s.q[2 * p + 1], r);
            }
        }
    }
}

// The copy as the Q4_K kernel reads it: per super-block, the quants of chunk pair p (h = 0:
// chunk 2p, 1: chunk 2p + 1) for group k, the scale pairs of chunk c, the min pairs of p.
class CopiedQ4k {
public:
    explicit CopiedQ4k(const Q4kRows8* w) : w_(w) {}
    void begin_block(int64_t b) { s_ = &w_[b]; }
    void begin_pair(int) {}
    __m256i quants(int p, int h, int k) const { return load32(s_->q[2 * p + h][k]); }
    __m256i scales(int c) const { return load32(s_->scales[c]); }
    __m256i mins(int p) const { return load32(s_->mins[p]); }
    __m256 d() const { return _mm256_loadu_ps(s_->d); }
    __m256 dmin() const { return _mm256_loadu_ps(s_->dmin); }

private:
    const Q4kRows8* w_;
    const Q4kRows8* s_ = nullptr;
};

// 16 bytes at offset `off` of rows r (low half) and r + 4 (high half), for r < 4, transposed
// within each half: 32-bit lane r of out[k] holds bytes off + 4k .. off + 4k + 3 of row r.
inline void load_transposed(const uint8_t* row0, size_t ws, size_t off, __m256i out[4]) {
    __m256i t[4];
    for (int r = 0; r < 4; ++r) {
        t[r] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(row0 + (r + 4) * ws + off),
                                   reinterpret_cast<const __m128i*>(row0 + r * ws + off));
    }
    const __m256i u0 = _mm256_unpacklo_epi32(t[0], t[1]), u1 = _mm256_unpackhi_epi32(t[0], t[1]);
    const __m256i u2 = _mm256_unpacklo_epi32(t[2], t[3]), u3 = _mm256_unpackhi_epi32(t[2], t[3]);
    out[0] = _mm256_unpacklo_epi64(u0, u2);
    out[1] = _mm256_unpackhi_epi64(u0, u2);
    out[2] = _mm256_unpacklo_epi64(u1, u3);
    out[3] = _mm256_unpackhi_epi64(u1, u3);
}

// A pshufb index that puts, in 32-bit lane i of each half, bytes 4i + b0 and 4i + b1 of
// that half as two zero-extended int16.
inline __m256i pair_index(int b0, int b1) {
    const __m256i base = _mm256_set1_epi32(static_cast<int>(b0 | 0x8000 | b1 << 16 | 0x80000000u));
    return _mm256_add_epi8(base, _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0, 0x04040404, 0x08080808, 0x0c0c0c0c));
}

// The 8 rows read in place (one activation row at a time, no copy to amortise): each
// super-block's headers and each chunk pair's quants transposed in registers, the 6-bit
// scales and mins of all 8 rows unpacked at once (lane r = row r).
class DirectQ4k {
public:
    DirectQ4k(const uint8_t* w, size_t ws) : w_(w), ws_(ws) {}
    void begin_block(int64_t b) {
        block_ = w_ + b * sizeof(BlockQ4_K);
        // The next group of 8 rows, read at the pace of this one: one sequential stream
        // (8 streams of rows prefetched 12 KiB ahead each: 1B Q4_K_M tg 16.9 t/s, this 18.4).
        const uintptr_t next = reinterpret_cast<uintptr_t>(w_) + 8 * ws_ + b * 8 * sizeof(BlockQ4_K);
        for (uintptr_t p = next & ~uintptr_t{63}; p < next + 8 * sizeof(BlockQ4_K); p += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
        }
        __m256i head[4];  // d | dmin << 16, then the 12 packed scale bytes
        load_transposed(block_, ws_, 0, head);
        const __m256i m63 = _mm256_set1_epi8(63), m15 = _mm256_set1_epi8(15), top2 = _mm256_set1_epi8(0x30);
        // Chunks 0..3: low 6 bits of bytes 0..3 (scales) and 4..7 (mins). Chunks 4..7: low
        // (scales) or high (mins) nibbles of bytes 8..11, with bits 6..7 of bytes 0..7 on top.
        scales_[0] = _mm256_and_si256(head[1], m63);
        mins_[0] = _mm256_and_si256(head[2], m63);
        scales_[1] = _mm256_or_si256(_mm256_and_si256(head[3], m15), _mm256_and_si256(_mm256_srli_epi32(head[1], 2), top2));
        mins_[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(head[3], 4), m15),
                                   _mm256_and_si256(_mm256_srli_epi32(head[2], 2), top2));
        const __m256i halves = _mm256_shuffle_epi8(
            head[0], _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7,
                                      10, 11, 14, 15));
        const __m256i ordered = _mm256_permute4x64_epi64(halves, _MM_SHUFFLE(3, 1, 2, 0));
        d_ = _mm256_cvtph_ps(_mm256_castsi256_si128(ordered));
        dmin_ = _mm256_cvtph_ps(_mm256_extracti128_si256(ordered, 1));
    }
    void begin_pair(int p) {
        load_transposed(block_, ws_, offsetof(BlockQ4_K, qs) + 32 * p, groups_);
        load_transposed(block_, ws_, offsetof(BlockQ4_K, qs) + 32 * p + 16, groups_ + 4);
    }
    __m256i quants(int, int h, int k) const {
        const __m256i bits = h == 0 ? groups_[k] : _mm256_srli_epi16(groups_[k], 4);
        return _mm256_and_si256(bits, _mm256_set1_epi8(15));
    }
    __m256i scales(int c) const { return _mm256_shuffle_epi8(scales_[c / 4], pair_index(c % 4, c % 4)); }
    __m256i mins(int p) const { return _mm256_shuffle_epi8(mins_[p / 2], pair_index(2 * (p % 2), 2 * (p % 2) + 1)); }
    __m256 d() const { return d_; }
    __m256 dmin() const { return dmin_; }

private:
    const uint8_t* w_;
    size_t ws_;
    const uint8_t* block_ = nullptr;
    __m256i scales_[2], mins_[2];  // bytes of chunks 0..3 / 4..7 (pairs 0..1 / 2..3), lane r = row r
    __m256 d_, dmin_;
    __m256i groups_[8];
};

// 8 rows (lanes) x A activation rows. kGemm: llama.cpp's repacked GEMM order, one fused
// multiply-add per 64 elements; else its GEMV order, one per super-block.
template <bool kGemm, int A, typename Source>
void q4k_rows8(int64_t nb, Source src, const uint8_t* act, size_t as, float* out, size_t os) {
    __m256 acc[A], acc_min[A];
    for (int a = 0; a < A; ++a) acc[a] = acc_min[a] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        src.begin_block(b);
        const BlockQ8_K* y[A];
        for (int a = 0; a < A; ++a) y[a] = reinterpret_cast<const BlockQ8_K*>(act + a * as) + b;
        __m256i block_sum[A], block_min[A];
        for (int a = 0; a < A; ++a) block_sum[a] = block_min[a] = _mm256_setzero_si256();
        for (int p = 0; p < 4; ++p) {
            src.begin_pair(p);
            __m256i sum[A];
            for (int h = 0; h < 2; ++h) {
                const int c = 2 * p + h;
                __m256i pairs[A];
                for (int a = 0; a < A; ++a) pairs[a] = _mm256_setzero_si256();
                for (int k = 0; k < 8; ++k) {
                    const __m256i q = src.quants(p, h, k);
                    for (int a = 0; a < A; ++a) {
                        pairs[a] = _mm256_add_epi16(pairs[a], _mm256_maddubs_epi16(q, broadcast4(y[a]->qs + 32 * c + 4 * k)));
                    }
                }
                const __m256i scales = src.scales(c);
                for (int a = 0; a < A; ++a) {
                    const __m256i scaled = _mm256_madd_epi16(pairs[a], scales);
                    sum[a] = h == 0 ? scaled : _mm256_add_epi32(sum[a], scaled);
                }
            }
            const __m256i mins = src.mins(p);
            for (int a = 0; a < A; ++a) {
                const int16_t* bs = y[a]->bsums + 4 * p;
                const uint32_t pair = static_cast<uint16_t>(bs[0] + bs[1]) | static_cast<uint32_t>(static_cast<uint16_t>(bs[2] + bs[3])) << 16;
                const __m256i min_sum = _mm256_madd_epi16(mins, _mm256_set1_epi32(static_cast<int>(pair)));
                if constexpr (kGemm) {
                    const __m256 da = _mm256_set1_ps(y[a]->d);
                    acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[a]), _mm256_mul_ps(src.d(), da), acc[a]);
                    acc_min[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_sum), _mm256_mul_ps(src.dmin(), da), acc_min[a]);
                } else {
                    block_sum[a] = _mm256_add_epi32(block_sum[a], sum[a]);
                    block_min[a] = _mm256_add_epi32(block_min[a], min_sum);
                }
            }
        }
        if constexpr (!kGemm) {
            for (int a = 0; a < A; ++a) {
                const __m256 da = _mm256_set1_ps(y[a]->d);
                acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_sum[a]), _mm256_mul_ps(src.d(), da), acc[a]);
                acc_min[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_min[a]), _mm256_mul_ps(src.dmin(), da), acc_min[a]);
            }
        }
    }
    for (int a = 0; a < A; ++a) _mm256_storeu_ps(out + a * os, _mm256_sub_ps(acc[a], acc_min[a]));
}

template <bool kGemm, int A>
void q4k_rows8_micro(int64_t nb, const Q4kRows8* w, const uint8_t* act, size_t as, float* out, size_t os) {
    q4k_rows8<kGemm, A>(nb, CopiedQ4k(w), act, as, out, os);
}

// One super-block of 8 Q6_K rows in the copy: for chunk c and group k as for Q4_K, the
// signed quants q - 32 and their absolute values; for each group g of 16 elements, int16
// pairs (scale_r(g), scale_r(g)); the 8 rows' d.
struct Q6kRows8 {
    uint8_t q[8][8][32];  // int8 values
    uint8_t abs_q[8][8][32];
    int16_t scales[16][16];
    float d[8];
};

void interleave_q6_k(const uint8_t* w, size_t ws, int64_t nb, Q6kRows8* dst) {
    for (int r = 0; r < 8; ++r) {
        const auto* x = reinterpret_cast<const BlockQ6_K*>(w + r * ws);
        for (int64_t b = 0; b < nb; ++b) {
            Q6kRows8& s = dst[b];
            s.d[r] = half_to_float(x[b].d);
            for (int g = 0; g < 16; ++g) s.scales[g][2 * r] = s.scales[g][2 * r + 1] = x[b].scales[g];
            for (int half = 0; half < 2; ++half) {
                const __m256i ql0 = load32(x[b].ql + 64 * half), ql1 = load32(x[b].ql + 64 * half + 32);
                const __m256i qh = load32(x[b].qh + 32 * half);
                const __m256i m15 = _mm256_set1_epi8(15);
                const __m256i low[4] = {_mm256_and_si256(ql0, m15), _mm256_and_si256(ql1, m15),
                                        _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m15),
                                        _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m15)};
                for (int k = 0; k < 4; ++k) {
                    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
                    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low[k], _mm256_slli_epi16(high, 4)), _mm256_set1_epi8(32));
                    scatter_chunk(q, s.q[4 * half + k], r);
                    scatter_chunk(_mm256_sign_epi8(q, q), s.abs_q[4 * half + k], r);
                }
            }
        }
    }
}

// 8 rows (lanes) x A activation rows in the tiled k-quant order: per super-block
// acc = fma(d_w * total, d_a, acc). Products |q - 32| * (y with the sign of q - 32): at most
// 8 of 32 * 127 in an int16 lane (Q8_K quants are within +-127), one scale group.
template <int A>
void q6k_rows8_micro(int64_t nb, const Q6kRows8* w, const uint8_t* act, size_t as, float* out, size_t os) {
    __m256 acc[A];
    for (int a = 0; a < A; ++a) acc[a] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const Q6kRows8& s = w[b];
        const BlockQ8_K* y[A];
        for (int a = 0; a < A; ++a) y[a] = reinterpret_cast<const BlockQ8_K*>(act + a * as) + b;
        __m256i total[A];
        for (int a = 0; a < A; ++a) total[a] = _mm256_setzero_si256();
        for (int g = 0; g < 16; ++g) {
            const int c = g / 2;
            __m256i pairs[A];
            for (int a = 0; a < A; ++a) pairs[a] = _mm256_setzero_si256();
            for (int k = 4 * (g % 2); k < 4 * (g % 2) + 4; ++k) {
                const __m256i q = load32(s.q[c][k]), abs_q = load32(s.abs_q[c][k]);
                for (int a = 0; a < A; ++a) {
                    const __m256i ya = _mm256_sign_epi8(broadcast4(y[a]->qs + 32 * c + 4 * k), q);
                    pairs[a] = _mm256_add_epi16(pairs[a], _mm256_maddubs_epi16(abs_q, ya));
                }
            }
            const __m256i scales = load32(s.scales[g]);
            for (int a = 0; a < A; ++a) total[a] = _mm256_add_epi32(total[a], _mm256_madd_epi16(pairs[a], scales));
        }
        const __m256 dw = _mm256_loadu_ps(s.d);
        for (int a = 0; a < A; ++a) {
            acc[a] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_cvtepi32_ps(total[a])), _mm256_set1_ps(y[a]->d), acc[a]);
        }
    }
    for (int a = 0; a < A; ++a) _mm256_storeu_ps(out + a * os, acc[a]);
}

// Copies the tile's 8-row groups, then runs every activation row over them, A at a time
// (those A stay in L1 while the copy streams from L2).
template <typename Rows8, void (*Interleave)(const uint8_t*, size_t, int64_t, Rows8*),
          void (*Many)(int64_t, const Rows8*, const uint8_t*, size_t, float*, size_t),
          void (*One)(int64_t, const Rows8*, const uint8_t*, size_t, float*, size_t)>
void rows8_tile(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                size_t os) {
    constexpr int A = 4;
    const int64_t nb = n / QK_K;
    thread_local std::vector<Rows8> copy;
    copy.resize(static_cast<size_t>(n_groups * nb));
    for (int g = 0; g < n_groups; ++g) Interleave(static_cast<const uint8_t*>(w) + 8 * g * ws, ws, nb, &copy[g * nb]);
    const auto* a0 = static_cast<const uint8_t*>(act);
    int a = 0;
    for (; a + A <= n_acts; a += A) {
        for (int g = 0; g < n_groups; ++g) Many(nb, &copy[g * nb], a0 + a * as, as, out + a * os + 8 * g, os);
    }
    for (; a < n_acts; ++a) {
        for (int g = 0; g < n_groups; ++g) One(nb, &copy[g * nb], a0 + a * as, as, out + a * os + 8 * g, os);
    }
}

}  // namespace

void tile_q6_k_rows8(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                     size_t os) {
    rows8_tile<Q6kRows8, interleave_q6_k, q6k_rows8_micro<4>, q6k_rows8_micro<1>>(n, w, ws, n_groups, act, as, n_acts, out, os);
}

void tile_q4_k_rows8(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                     size_t os, bool gemm) {
    if (n_acts < kCopyActs) {
        // Few activation rows: read the rows in place.
        const auto* w0 = static_cast<const uint8_t*>(w);
        const auto* a0 = static_cast<const uint8_t*>(act);
        const int64_t nb = n / QK_K;
        for (int a = 0; a < n_acts; ++a) {
            for (int g = 0; g < n_groups; ++g) {
                const DirectQ4k src(w0 + 8 * g * ws, ws);
                float* o = out + a * os + 8 * g;
                if (gemm) {
                    q4k_rows8<true, 1>(nb, src, a0 + a * as, as, o, os);
                } else {
                    q4k_rows8<false, 1>(nb, src, a0 + a * as, as, o, os);
                }
            }
        }
        return;
    }
    if (gemm) {
        rows8_tile<Q4kRows8, interleave_q4_k, q4k_rows8_micro<true, 4>, q4k_rows8_micro<true, 1>>(n, w, ws, n_groups, act, as,
                                                                                                 n_acts, out, os);
    } else {
        rows8_tile<Q4kRows8, interleave_q4_k, q4k_rows8_micro<false, 4>, q4k_rows8_micro<false, 1>>(n, w, ws, n_groups, act,
                                                                                                   as, n_acts, out, os);
    }
}

}  // namespace natter::avx2
