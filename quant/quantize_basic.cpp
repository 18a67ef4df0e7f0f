// Reference quantization of the 32-element formats and of Q8_K, and the row-level entry
// points. Each block quantizer matches llama.cpp's reference byte for byte (same scale,
// same rounding, same packing), so files we write are the files its quantize writes.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "quant/iq.h"
#include "quant/kquant_search.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"
#include "quant/unpack.h"

namespace natter {
namespace detail {
namespace {

// Q4_0 / Q5_0: the element of largest magnitude maps to the lowest level, -2^(bits-1),
// which gives one more level on its side than the symmetric alternative would. Returns d.
float quantize_signed(const float* x, int bits, uint8_t q[32]) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    const int half = 1 << (bits - 1);
    const float d = max / static_cast<float>(-half);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float bias = static_cast<float>(half) + 0.5f;  // shift to 0..2*half, then round
    for (int j = 0; j < 32; ++j) {
        q[j] = static_cast<uint8_t>(std::clamp(truncate_to_int(x[j] * id + bias), 0, 2 * half - 1));
    }
    return d;
}

// Q4_1 / Q5_1: levels spread evenly from the block's min to its max. Returns d.
float quantize_min_max(const float* x, int bits, uint8_t q[32], float& min) {
    min = FLT_MAX;
    float max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const int levels = 1 << bits;
    const float d = (max - min) / static_cast<float>(levels - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        q[j] = static_cast<uint8_t>(std::clamp(truncate_to_int((x[j] - min) * id + 0.5f), 0, levels - 1));
    }
    return d;
}

// Bit 4 of element j goes to bit j of the little-endian word qh.
void pack_fifth_bits(const uint8_t q[32], uint8_t qh[4]) {
    std::memset(qh, 0, 4);
    for (int j = 0; j < 32; ++j) qh[j / 8] |= static_cast<uint8_t>(((q[j] >> 4) & 1) << (j % 8));
}

// Q4_0, Q4_1, Q5_0, Q5_1: the formats with an offset m use the min-max scale, the
// others the signed one; the 5-bit ones keep their fifth bits in qh.
template <typename Block>
void quantize_4_or_5_bits(const float* x, Block& block) {
    constexpr bool five_bits = requires { block.qh; };
    constexpr int bits = five_bits ? 5 : 4;
    uint8_t q[32];
    if constexpr (requires { block.m; }) {
        float min = 0.0f;
        block.d = fp32_to_fp16(quantize_min_max(x, bits, q, min));
        block.m = fp32_to_fp16(min);
    } else {
        block.d = fp32_to_fp16(quantize_signed(x, bits, q));
    }
    pack_nibbles(q, 16, block.qs);
    if constexpr (five_bits) pack_fifth_bits(q, block.qh);
}

enum class Rounding {
    reference,    // llama.cpp's reference: x * (1 / d), rounded half away from zero
    cpu_backend,  // its x86 CPU backend: x * (127 / max), rounded half to even
};

// Q8_0 / Q8_1: d = max|x| / 127, q = round(x / d). Returns d.
float quantize_q8_32(const float* x, Rounding rounding, int8_t q[32]) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    if (rounding == Rounding::reference) {
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(truncate_to_int(std::round(x[j] * id)));
    } else {
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(nearest_int(x[j] * id));
    }
    return d;
}

void quantize_q8_1(const float* x, Rounding rounding, BlockQ8_1& block) {
    const float d = quantize_q8_32(x, rounding, block.qs);
    int sum = 0;
    for (int8_t v : block.qs) sum += v;
    block.d = fp32_to_fp16(d);
    block.s = fp32_to_fp16(static_cast<float>(sum) * d);
}

}  // namespace

// With an importance matrix (quantize_row_q4_0_impl and its siblings): the element weights
// qw * sqrt(sigma2 + x²), a weighted symmetric fit (Q4_0, Q5_0) or scale-and-min fit (Q4_1,
// Q5_1) with the fine sweep, the scale stored as fitted.
template <typename Block>
void quantize_4_or_5_bits_weighted(const float* x, const float* qw, float sigma2, Block& block) {
    constexpr bool five_bits = requires { block.qh; };
    constexpr int levels = five_bits ? 32 : 16;
    float w[32];
    for (int j = 0; j < 32; ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
    uint8_t q[32];
    if constexpr (requires { block.m; }) {
        float min = 0.0f;
        block.d = fp32_to_fp16(fit_scale_and_min(32, AffineSearch{levels - 1, -0.9f, 0.05f, 36, false}, x, w, q, min));
        block.m = fp32_to_fp16(-min);
    } else {
        int8_t l[32];
        block.d = fp32_to_fp16(fit_symmetric_scale(32, levels / 2, x, l, w));
        for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(l[j]);
    }
    pack_nibbles(q, 16, block.qs);
    if constexpr (five_bits) pack_fifth_bits(q, block.qh);
}

void quantize(const float* x, BlockQ4_0& block) { quantize_4_or_5_bits(x, block); }
void quantize(const float* x, BlockQ4_1& block) { quantize_4_or_5_bits(x, block); }
void quantize(const float* x, BlockQ5_0& block) { quantize_4_or_5_bits(x, block); }
void quantize(const float* x, BlockQ5_1& block) { quantize_4_or_5_bits(x, block); }

void quantize(const float* x, const float* qw, float sigma2, BlockQ4_0& block) {
    quantize_4_or_5_bits_weighted(x, qw, sigma2, block);
}
void quantize(const float* x, const float* qw, float sigma2, BlockQ4_1& block) {
    quantize_4_or_5_bits_weighted(x, qw, sigma2, block);
}
void quantize(const float* x, const float* qw, float sigma2, BlockQ5_0& block) {
    quantize_4_or_5_bits_weighted(x, qw, sigma2, block);
}
void quantize(const float* x, const float* qw, float sigma2, BlockQ5_1& block) {
    quantize_4_or_5_bits_weighted(x, qw, sigma2, block);
}

void quantize(const float* x, BlockQ8_0& block) {
    block.d = fp32_to_fp16(quantize_q8_32(x, Rounding::reference, block.qs));
}

void quantize(const float* x, BlockQ8_1& block) { quantize_q8_1(x, Rounding::reference, block); }

void quantize(const float* x, BlockQ8_K& block) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    if (amax == 0.0f) {
        std::memset(&block, 0, sizeof(block));
        return;
    }
    // 127 rather than 128 levels on the largest element's side keeps every q in -127..127.
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) block.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int g = 0; g < QK_K / 16; ++g) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) sum += block.qs[16 * g + i];
        block.bsums[g] = static_cast<int16_t>(sum);
    }
    block.d = 1 / iscale;
}

}  // namespace detail

namespace {

void quantize_floats(GgmlType type, const float* src, void* dst, int64_t n) {
    if (type == GgmlType::F32) {
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return;
    }
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = type == GgmlType::F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
}

}  // namespace

namespace {

// The one check before any quantizer: a block's scale cannot represent inf or NaN, and they
// would poison the whole block.
void check_finite(GgmlType type, const float* src, int64_t n) {
    if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16) return;
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(src[i])) {
            throw Error("Cannot quantize to " + std::string(type_name(type)) + ": value " + std::to_string(i) +
                        " of the row is not a finite number.");
        }
    }
}

// As detail::visit_block_type for the IQ super-block and ternary types natter quantizes
// (quant/quantize_iq4.cpp, quant/quantize_iq3.cpp, quant/quantize_iq2.cpp, quant/quantize_tq.cpp).
template <typename F>
bool visit_iq_quantizer(GgmlType type, F&& f) {
    switch (type) {
        case GgmlType::IQ4_XS: f(BlockIQ4_XS{}); return true;
        case GgmlType::IQ3_XXS: f(BlockIQ3_XXS{}); return true;
        case GgmlType::IQ3_S: f(BlockIQ3_S{}); return true;
        case GgmlType::TQ1_0: f(BlockTQ1_0{}); return true;
        case GgmlType::TQ2_0: f(BlockTQ2_0{}); return true;
        case GgmlType::IQ2_XXS: f(BlockIQ2_XXS{}); return true;
        case GgmlType::IQ2_XS: f(BlockIQ2_XS{}); return true;
        case GgmlType::IQ2_S: f(BlockIQ2_S{}); return true;
        case GgmlType::IQ1_S: f(BlockIQ1_S{}); return true;
        case GgmlType::IQ1_M: f(BlockIQ1_M{}); return true;
        default: return false;
    }
}

template <typename Block>
void quantize_blocks(const float* src, void* dst, int64_t n) {
    auto* blocks = static_cast<Block*>(dst);
    for (int64_t b = 0; b < n / Block::elements; ++b) detail::quantize(src + b * Block::elements, blocks[b]);
}

// The blocks with their importance weights; false for a type that takes none.
template <typename Block>
bool quantize_weighted_blocks(const float* src, const float* qw, void* dst, int64_t n) {
    auto* blocks = static_cast<Block*>(dst);
    constexpr int k = Block::elements;
    if constexpr (requires(Block b) { detail::quantize(src, qw, 0.0f, b); }) {
        float sum_x2 = 0.0f;  // over the row, as llama.cpp's 32-element quantizers take it
        for (int64_t i = 0; i < n; ++i) sum_x2 += src[i] * src[i];
        const float sigma2 = sum_x2 / static_cast<float>(n);
        for (int64_t b = 0; b < n / k; ++b) detail::quantize(src + b * k, qw + b * k, sigma2, blocks[b]);
        return true;
    } else if constexpr (requires(Block b) { detail::quantize(src, qw, b); }) {
        for (int64_t b = 0; b < n / k; ++b) detail::quantize(src + b * k, qw + b * k, blocks[b]);
        return true;
    }
    return false;
}

}  // namespace

bool quantize_requires_imatrix(GgmlType type) {
    bool requires_weights = false;
    visit_iq_quantizer(type, [&](auto tag) {
        using Block = decltype(tag);
        requires_weights = !requires(const float* x, Block b) { detail::quantize(x, b); };
    });
    return requires_weights;
}

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
    row_size(type, n);  // throws on an unknown type or a partial block
    check_finite(type, src, n);
    if (quantize_requires_imatrix(type)) {
        throw Error("Cannot quantize to " + std::string(type_name(type)) +
                    " without an importance matrix (llama.cpp's quantizer needs one for it too).");
    }
    const bool iq = visit_iq_quantizer(type, [&](auto tag) {
        using Block = decltype(tag);
        if constexpr (requires(Block b) { detail::quantize(src, b); }) quantize_blocks<Block>(src, dst, n);
    });
    if (iq) return;
    if (detail::is_iq_super_block(type)) {
        throw Error("natter cannot quantize to " + std::string(type_name(type)) + " yet (it reads such files).");
    }
    const bool blocked = detail::visit_block_type(type, [&](auto tag) { quantize_blocks<decltype(tag)>(src, dst, n); });
    if (!blocked) quantize_floats(type, src, dst, n);
}

bool quantize_row_imatrix(GgmlType type, const float* src, const float* quant_weights, void* dst, int64_t n) {
    row_size(type, n);
    bool weighted = false;
    const auto weigh = [&](auto tag) {
        using Block = decltype(tag);
        if constexpr (requires(Block b) { detail::quantize(src, quant_weights, b); } ||
                      requires(Block b) { detail::quantize(src, quant_weights, 0.0f, b); }) {
            check_finite(type, src, n);
            weighted = quantize_weighted_blocks<Block>(src, quant_weights, dst, n);
        }
    };
    if (!visit_iq_quantizer(type, weigh)) detail::visit_block_type(type, weigh);
    if (!weighted) quantize_row(type, src, dst, n);
    return weighted;
}

void quantize_activations(GgmlType type, const float* src, void* dst, int64_t n) {
    row_size(type, n);
    if (type == GgmlType::Q8_0) {
        auto* blocks = static_cast<BlockQ8_0*>(dst);
        for (int64_t b = 0; b < n / QK8_0; ++b) {
            blocks[b].d = fp32_to_fp16(detail::quantize_q8_32(src + b * QK8_0, detail::Rounding::cpu_backend, blocks[b].qs));
        }
    } else if (type == GgmlType::Q8_1) {
        auto* blocks = static_cast<BlockQ8_1*>(dst);
        for (int64_t b = 0; b < n / QK8_1; ++b) {
            detail::quantize_q8_1(src + b * QK8_1, detail::Rounding::cpu_backend, blocks[b]);
        }
    } else {
        quantize_row(type, src, dst, n);
    }
}

}  // namespace natter
