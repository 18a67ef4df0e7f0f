// The k-quant batch kernels of simd_avx2_rows8.cpp with 16 weight rows as the 16 lanes of a
// ZMM vector and VNNI's vpdpbusd for the byte products (simd_avx512.h says why the bits are
// the same). As there, a tile call copies the rows it is about to use into a thread-local
// buffer laid out for the kernel (4 consecutive elements of the 16 rows side by side, 64
// bytes, quants unpacked to bytes), and every activation row of the batch runs over it.
//
// Q4_K, per 32-element chunk c of a super-block: dot_r = sum of q * y (one vpdpbusd per 4
// elements of all 16 rows), then scale_r(c) * dot_r; per chunk pair the mins' term
// min_r(2p) * (bsums 4p + 4p+1) + min_r(2p+1) * (bsums 4p+2 + 4p+3). Those are the integers
// the AVX2 kernel forms with maddubs + madd (its int16 pair sums stay below 2^15), and the
// float steps after them are its steps, lane by lane.
//
// Q6_K: vpdpbusd wants unsigned bytes, so the quants are taken as q + 32 (0..63) and the
// excess is taken off with the activation's 16-element sums: scale * dot(q, y) =
// scale * dot(q + 32, y) - 32 * scale * bsum, exact in int32.
#include "quant/simd_avx512_common.h"  // first: the intrinsics, with GCC's false warnings off

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <vector>

// Inline code of ours compiled here for AVX-512 could become the copy the linker keeps for
// every caller, on CPUs without it: this file calls only functions defined elsewhere
// (detail::k4_groups, avx2's kernels), its own, and simd_avx512_common.h's (internal linkage).
#include "quant/blocks.h"
#include "quant/packed.h"
#include "quant/simd_avx512.h"
#include "quant/unpack.h"

namespace natter {
namespace avx2 {  // the forms for what the AVX-512 ones leave over (simd_avx2.h)
void tile_q4_k_repacked_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                             float* out, size_t os);
void tile_q6_k_tiled(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                     size_t os);
}  // namespace avx2

namespace avx512 {
namespace {

// Activation rows that run over the copy together (their blocks stay in L1).
constexpr int kActs = 4;

// Row r's 32 bytes of one chunk into the copy's groups of 4: group k gets bytes 4k..4k+3 at 4r.
inline void scatter_chunk(const uint8_t bytes[32], uint8_t (*groups)[64], int r) {
    for (int k = 0; k < 8; ++k) std::memcpy(&groups[k][4 * r], &bytes[4 * k], 4);
}

// --- Q4_K ---------------------------------------------------------------------------------

// One super-block of 16 Q4_K rows: quants by chunk and group of 4 (row r at 4r), each chunk's
// scales as int32 (lane r), each chunk pair's mins as int16 pairs (min_r(2p), min_r(2p+1)),
// then d and dmin.
struct Q4kRows16 {
    uint8_t q[8][8][64];
    int32_t scales[8][16];
    int16_t mins[4][32];
    float d[16];
    float dmin[16];
};

void interleave_q4_k(const uint8_t* w, size_t ws, int64_t nb, Q4kRows16* dst) {
    detail::KGroups groups;
    // Dword k of a chunk's 32 bytes goes to group k: 64 bytes (16 dwords) apart in the copy.
    const __m256i to_groups = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    const __m256i m15 = _mm256_set1_epi8(15);
    for (int r = 0; r < 16; ++r) {
        const auto* x = reinterpret_cast<const BlockQ4_K*>(w + r * ws);
        for (int64_t b = 0; b < nb; ++b) {
            Q4kRows16& s = dst[b];
            s.d[r] = half_to_float(x[b].d);
            s.dmin[r] = half_to_float(x[b].dmin);
            detail::k4_groups(x[b].scales, groups);
            for (int c = 0; c < 8; ++c) {
                s.scales[c][r] = groups.scales[c];
                s.mins[c / 2][2 * r + c % 2] = static_cast<int16_t>(groups.mins[c]);
            }
            // Chunk pair p: 32 bytes, low nibbles chunk 2p, high nibbles chunk 2p + 1.
            for (int p = 0; p < 4; ++p) {
                const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * p));
                _mm256_i32scatter_epi32(&s.q[2 * p][0][4 * r], to_groups, _mm256_and_si256(bits, m15), 4);
                _mm256_i32scatter_epi32(&s.q[2 * p + 1][0][4 * r], to_groups, _mm256_and_si256(_mm256_srli_epi16(bits, 4), m15), 4);
            }
        }
    }
}

// Where the Q4_K kernel's operands come from: the per-tile copy.
class CopiedQ4k {
public:
    explicit CopiedQ4k(const Q4kRows16* w) : w_(w) {}
    void begin_block(int64_t b) { s_ = &w_[b]; }
    __m512i quants(int c, int k) const { return load64(s_->q[c][k]); }
    __m512 scales(int c) const { return _mm512_cvtepi32_ps(load64(s_->scales[c])); }
    __m512i mins(int p) const { return load64(s_->mins[p]); }
    __m512 d() const { return _mm512_loadu_ps(s_->d); }
    __m512 dmin() const { return _mm512_loadu_ps(s_->dmin); }

private:
    const Q4kRows16* w_;
    const Q4kRows16* s_ = nullptr;
};

// Or rows packed at load (quant/packed.h): the nibbles, scale bytes and min bytes widened
// as they are used.
class PackedQ4k {
public:
    PackedQ4k(const PackedQ4_K* w, int prefetch) : w_(w), prefetch_(prefetch) {}
    void begin_block(int64_t b) {
        s_ = &w_[b];
        const char* next = reinterpret_cast<const char*>(s_) + prefetch_;
        for (int off = 0; off < static_cast<int>(sizeof(PackedQ4_K)) + 63; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
    }
    __m512i quants(int c, int k) const {
        const __m512i bits = load64(s_->q[c / 2][k]);
        return _mm512_and_si512(c % 2 == 0 ? bits : _mm512_srli_epi16(bits, 4), _mm512_set1_epi8(15));
    }
    __m512 scales(int c) const { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s_->scales[c])))); }
    __m512i mins(int p) const { return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s_->mins[p]))); }
    __m512 d() const { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s_->d))); }
    __m512 dmin() const { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s_->dmin))); }

private:
    const PackedQ4_K* w_;
    int prefetch_;
    const PackedQ4_K* s_ = nullptr;
};

// The same copy from a group of 16 rows packed at load (quant/packed.h): widening only.
void interleave_packed_q4_k(const uint8_t* w, size_t, int64_t nb, Q4kRows16* dst) {
    const auto* src = reinterpret_cast<const PackedQ4_K*>(w);
    const __m512i m15 = _mm512_set1_epi8(15);
    for (int64_t b = 0; b < nb; ++b) {
        const PackedQ4_K& p = src[b];
        Q4kRows16& s = dst[b];
        _mm512_storeu_ps(s.d, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.d))));
        _mm512_storeu_ps(s.dmin, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.dmin))));
        for (int c = 0; c < 8; ++c) {
            _mm512_storeu_si512(s.scales[c], _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.scales[c]))));
        }
        for (int pair = 0; pair < 4; ++pair) {
            _mm512_storeu_si512(s.mins[pair], _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.mins[pair]))));
            for (int k = 0; k < 8; ++k) {
                const __m512i bits = load64(p.q[pair][k]);
                _mm512_storeu_si512(s.q[2 * pair][k], _mm512_and_si512(bits, m15));
                _mm512_storeu_si512(s.q[2 * pair + 1][k], _mm512_and_si512(_mm512_srli_epi16(bits, 4), m15));
            }
        }
    }
}

// 16 rows (lanes) x A activation rows. kGemm: llama.cpp's repacked GEMM order (one fused
// multiply-add per 64 elements), else its GEMV order (one per super-block), as q4k_rows8.
template <bool kGemm, int A, typename Source>
void q4k_rows16(int64_t nb, Source src, const uint8_t* act, size_t as, float* out, size_t os) {
    __m512 acc[A], acc_min[A];
    for (int a = 0; a < A; ++a) acc[a] = acc_min[a] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        src.begin_block(b);
        const BlockQ8_K* y[A];
        for (int a = 0; a < A; ++a) y[a] = reinterpret_cast<const BlockQ8_K*>(act + a * as) + b;
        const __m512 dw = src.d(), dminw = src.dmin();
        __m512i block_sum[A], block_min[A];
        for (int a = 0; a < A; ++a) block_sum[a] = block_min[a] = _mm512_setzero_si512();
        for (int p = 0; p < 4; ++p) {
            // Both chunks of the pair at once: 2 * A independent vpdpbusd chains.
            __m512i dot[2][A];
            for (int a = 0; a < A; ++a) dot[0][a] = dot[1][a] = _mm512_setzero_si512();
            for (int k = 0; k < 8; ++k) {
                for (int h = 0; h < 2; ++h) {
                    const int c = 2 * p + h;
                    const __m512i q = src.quants(c, k);
                    for (int a = 0; a < A; ++a) dot[h][a] = _mm512_dpbusd_epi32(dot[h][a], q, broadcast4(y[a]->qs + 32 * c + 4 * k));
                }
            }
            // scale * dot in floats: every value here is an integer below 2^24 in magnitude (|dot| <=
            // 32 * 15 * 128, scale <= 63, two of them), so each product and the sum are exact and
            // equal the int32 sum converted; vpmulld would cost two uops on port 0 each.
            const __m512 scales0 = src.scales(2 * p), scales1 = src.scales(2 * p + 1);
            __m512 sum[A];
            for (int a = 0; a < A; ++a) {
                sum[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[0][a]), scales0,
                                         _mm512_mul_ps(_mm512_cvtepi32_ps(dot[1][a]), scales1));
            }
            const __m512i mins = src.mins(p);
            for (int a = 0; a < A; ++a) {
                const int16_t* bs = y[a]->bsums + 4 * p;
                const uint32_t pair = static_cast<uint16_t>(bs[0] + bs[1]) | static_cast<uint32_t>(static_cast<uint16_t>(bs[2] + bs[3])) << 16;
                const __m512i min_sum = _mm512_madd_epi16(mins, _mm512_set1_epi32(static_cast<int>(pair)));
                if constexpr (kGemm) {
                    const __m512 da = _mm512_set1_ps(y[a]->d);
                    acc[a] = _mm512_fmadd_ps(sum[a], _mm512_mul_ps(dw, da), acc[a]);
                    acc_min[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(min_sum), _mm512_mul_ps(dminw, da), acc_min[a]);
                } else {
                    block_sum[a] = _mm512_add_epi32(block_sum[a], _mm512_cvtps_epi32(sum[a]));  // exact integers
                    block_min[a] = _mm512_add_epi32(block_min[a], min_sum);
                }
            }
        }
        if constexpr (!kGemm) {
            for (int a = 0; a < A; ++a) {
                const __m512 da = _mm512_set1_ps(y[a]->d);
                acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(block_sum[a]), _mm512_mul_ps(dw, da), acc[a]);
                acc_min[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(block_min[a]), _mm512_mul_ps(dminw, da), acc_min[a]);
            }
        }
    }
    for (int a = 0; a < A; ++a) _mm512_storeu_ps(out + a * os, _mm512_sub_ps(acc[a], acc_min[a]));
}

template <bool kGemm, int A>
void q4k_rows16_copied(int64_t nb, const Q4kRows16* w, const uint8_t* act, size_t as, float* out, size_t os) {
    q4k_rows16<kGemm, A>(nb, CopiedQ4k(w), act, as, out, os);
}

// --- Q6_K ---------------------------------------------------------------------------------

// One super-block of 16 Q6_K rows: quants + 32 (0..63) by chunk and group of 4; the scale of
// each 16-element group as int32 (lane r) and, for the correction, as int16 pairs
// (scale_r(2j), scale_r(2j+1)); then d.
struct Q6kRows16 {
    uint8_t q[8][8][64];
    int32_t scales[16][16];
    int16_t scale_pairs[8][32];
    float d[16];
};

void interleave_q6_k(const uint8_t* w, size_t ws, int64_t nb, Q6kRows16* dst) {
    int8_t q[QK_K];
    uint8_t biased[32];
    detail::KGroups groups;
    for (int r = 0; r < 16; ++r) {
        const auto* x = reinterpret_cast<const BlockQ6_K*>(w + r * ws);
        for (int64_t b = 0; b < nb; ++b) {
            Q6kRows16& s = dst[b];
            s.d[r] = half_to_float(x[b].d);
            detail::unpack(x[b], q, groups);  // quants - 32 in element order
            for (int g = 0; g < 16; ++g) {
                s.scales[g][r] = groups.scales[g];
                s.scale_pairs[g / 2][2 * r + g % 2] = static_cast<int16_t>(groups.scales[g]);
            }
            for (int c = 0; c < 8; ++c) {
                for (int l = 0; l < 32; ++l) biased[l] = static_cast<uint8_t>(q[32 * c + l] + 32);
                scatter_chunk(biased, s.q[c], r);
            }
        }
    }
}

// 16 rows (lanes) x A activation rows in the tiled k-quant order: per super-block
// acc = fma(d_w * total, d_a, acc), as q6k_rows8_micro.
template <int A>
void q6k_rows16(int64_t nb, const Q6kRows16* w, const uint8_t* act, size_t as, float* out, size_t os) {
    __m512 acc[A];
    for (int a = 0; a < A; ++a) acc[a] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const Q6kRows16& s = w[b];
        const BlockQ8_K* y[A];
        for (int a = 0; a < A; ++a) y[a] = reinterpret_cast<const BlockQ8_K*>(act + a * as) + b;
        __m512i total[A], excess[A];
        for (int a = 0; a < A; ++a) total[a] = excess[a] = _mm512_setzero_si512();
        for (int c = 0; c < 8; ++c) {
            // The chunk's two 16-element groups at once: 2 * A independent vpdpbusd chains.
            __m512i dot[2][A];
            for (int a = 0; a < A; ++a) dot[0][a] = dot[1][a] = _mm512_setzero_si512();
            for (int k = 0; k < 4; ++k) {
                for (int h = 0; h < 2; ++h) {
                    const __m512i q = load64(s.q[c][4 * h + k]);
                    for (int a = 0; a < A; ++a) {
                        dot[h][a] = _mm512_dpbusd_epi32(dot[h][a], q, broadcast4(y[a]->qs + 32 * c + 4 * (4 * h + k)));
                    }
                }
            }
            const __m512i scales0 = load64(s.scales[2 * c]), scales1 = load64(s.scales[2 * c + 1]);
            for (int a = 0; a < A; ++a) {
                total[a] = _mm512_add_epi32(total[a], _mm512_add_epi32(_mm512_mullo_epi32(dot[0][a], scales0),
                                                                       _mm512_mullo_epi32(dot[1][a], scales1)));
            }
        }
        for (int j = 0; j < 8; ++j) {
            const __m512i pairs = load64(s.scale_pairs[j]);
            for (int a = 0; a < A; ++a) {
                const int16_t* bs = y[a]->bsums + 2 * j;
                const uint32_t pair = static_cast<uint16_t>(bs[0]) | static_cast<uint32_t>(static_cast<uint16_t>(bs[1])) << 16;
                excess[a] = _mm512_add_epi32(excess[a], _mm512_madd_epi16(pairs, _mm512_set1_epi32(static_cast<int>(pair))));
            }
        }
        const __m512 dw = _mm512_loadu_ps(s.d);
        for (int a = 0; a < A; ++a) {
            const __m512i exact = _mm512_sub_epi32(total[a], _mm512_slli_epi32(excess[a], 5));
            acc[a] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_cvtepi32_ps(exact)), _mm512_set1_ps(y[a]->d), acc[a]);
        }
    }
    for (int a = 0; a < A; ++a) _mm512_storeu_ps(out + a * os, acc[a]);
}

// Copies the tile's 16-row groups, then runs the activation rows over them, kActs at a time.
template <typename Rows16, void (*Interleave)(const uint8_t*, size_t, int64_t, Rows16*),
          void (*Many)(int64_t, const Rows16*, const uint8_t*, size_t, float*, size_t),
          void (*One)(int64_t, const Rows16*, const uint8_t*, size_t, float*, size_t)>
void rows16_tile(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                 size_t os) {
    const int64_t nb = n / QK_K;
    thread_local std::vector<Rows16> copy;
    copy.resize(static_cast<size_t>(n_groups * nb));
    for (int g = 0; g < n_groups; ++g) Interleave(static_cast<const uint8_t*>(w) + 16 * g * ws, ws, nb, &copy[g * nb]);
    const auto* a0 = static_cast<const uint8_t*>(act);
    int a = 0;
    for (; a + kActs <= n_acts; a += kActs) {
        for (int g = 0; g < n_groups; ++g) Many(nb, &copy[g * nb], a0 + a * as, as, out + a * os + 16 * g, os);
    }
    for (; a < n_acts; ++a) {
        for (int g = 0; g < n_groups; ++g) One(nb, &copy[g * nb], a0 + a * as, as, out + a * os + 16 * g, os);
    }
}

// n_groups packed groups of 16 rows: a batch of kCopyActs+ activation rows over the per-tile
// copy (widened from the packed rows), fewer over the packed rows as they are, kActs at a time.
template <bool kGemm>
void q4k_packed(int64_t n, const void* w, size_t ws, int n_groups, const void* act, size_t as, int n_acts, float* out,
                size_t os) {
    if (n_acts >= kCopyActs) {
        rows16_tile<Q4kRows16, interleave_packed_q4_k, q4k_rows16_copied<kGemm, kActs>, q4k_rows16_copied<kGemm, 1>>(
            n, w, ws, n_groups, act, as, n_acts, out, os);
        return;
    }
    const int64_t nb = n / QK_K;
    const auto* w0 = static_cast<const uint8_t*>(w);
    const auto* a0 = static_cast<const uint8_t*>(act);
    const int prefetch = kPackedPrefetchBytes;
    auto group = [&](int g) { return PackedQ4k(reinterpret_cast<const PackedQ4_K*>(w0 + 16 * g * ws), prefetch); };
    int a = 0;
    for (; a + kActs <= n_acts; a += kActs) {
        for (int g = 0; g < n_groups; ++g) q4k_rows16<kGemm, kActs>(nb, group(g), a0 + a * as, as, out + a * os + 16 * g, os);
    }
    for (; a < n_acts; ++a) {
        for (int g = 0; g < n_groups; ++g) q4k_rows16<kGemm, 1>(nb, group(g), a0 + a * as, as, out + a * os + 16 * g, os);
    }
}

bool cpu_has_avx512_vnni() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || (c & bit_OSXSAVE) == 0) return false;
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xe6) != 0xe6) return false;  // XMM, YMM, opmask and both ZMM halves saved
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const unsigned ebx = bit_AVX512F | bit_AVX512BW | bit_AVX512VL;
    return (b & ebx) == ebx && (c & bit_AVX512VNNI) != 0;
}

}  // namespace

bool has_avx512_vnni() {
    static const bool yes = [] {
        const char* forced = std::getenv("NATTER_KERNELS");
        if (forced && std::strcmp(forced, "avx2") == 0) return false;
        return cpu_has_avx512_vnni();
    }();
    return yes;
}

void tile_q4_k_repacked_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                             float* out, size_t os) {
    int r = 0;
    if (n_acts >= kCopyActs && n_rows >= 16) {
        rows16_tile<Q4kRows16, interleave_q4_k, q4k_rows16_copied<true, kActs>, q4k_rows16_copied<true, 1>>(n, w, ws, n_rows / 16, a, as,
                                                                                             n_acts, out, os);
        r = n_rows - n_rows % 16;
    }
    if (r == n_rows) return;
    avx2::tile_q4_k_repacked_gemm(n, static_cast<const uint8_t*>(w) + r * ws, ws, n_rows - r, a, as, n_acts, out + r, os);
}

void tile_q4_k_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os) {
    q4k_packed<false>(n, w, ws, n_rows / 16, a, as, n_acts, out, os);
}

void tile_q4_k_packed_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                           size_t os) {
    q4k_packed<true>(n, w, ws, n_rows / 16, a, as, n_acts, out, os);
}

void tile_q6_k_tiled(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                     size_t os) {
    int r = 0;
    if (n_acts >= kCopyActs && n_rows >= 16) {
        rows16_tile<Q6kRows16, interleave_q6_k, q6k_rows16<kActs>, q6k_rows16<1>>(n, w, ws, n_rows / 16, a, as, n_acts, out,
                                                                                os);
        r = n_rows - n_rows % 16;
    }
    if (r == n_rows) return;
    avx2::tile_q6_k_tiled(n, static_cast<const uint8_t*>(w) + r * ws, ws, n_rows - r, a, as, n_acts, out + r, os);
}

}  // namespace avx512
}  // namespace natter
