// Reference dequantization. The float operations are done in the same order as in
// llama.cpp's reference code (and the Python gguf package), so the results are identical
// bit for bit, not just close.
#include <cstring>

#include "quant/iq.h"
#include "quant/quant.h"
#include "quant/unpack.h"

namespace natter {
namespace {

using detail::KGroups;

// y = d * q - m for a run of quants sharing one scale d and offset m. Formats that add
// their offset (Q4_1, Q5_1) pass it negated: a - (-b) is exactly a + b in IEEE arithmetic.
void scale_quants(const int8_t* q, int n, float d, float m, float* y) {
    for (int i = 0; i < n; ++i) y[i] = d * static_cast<float>(q[i]) - m;
}

// Blocks with one scale (and for Q4_1 / Q5_1 an added offset m).
template <typename Block>
void dequantize_simple(const Block* blocks, int64_t count, float* y) {
    for (int64_t b = 0; b < count; ++b, y += Block::elements) {
        int8_t q[Block::elements];
        detail::unpack(blocks[b], q);
        float negated_offset = 0.0f;
        if constexpr (requires { blocks[b].m; }) negated_offset = -fp16_to_fp32(blocks[b].m);
        scale_quants(q, Block::elements, detail::scale_of(blocks[b]), negated_offset, y);
    }
}

// Super-blocks whose groups each have an integer scale and, for some formats, a min.
template <typename Block>
void dequantize_groups(const Block* blocks, int64_t count, float* y) {
    for (int64_t b = 0; b < count; ++b, y += QK_K) {
        int8_t q[QK_K];
        KGroups groups;
        detail::unpack(blocks[b], q, groups);
        const float d = fp16_to_fp32(blocks[b].d);
        float dmin = 0.0f;
        if constexpr (requires { blocks[b].dmin; }) dmin = fp16_to_fp32(blocks[b].dmin);
        for (int g = 0; g < groups.count; ++g) {
            const int first = g * groups.group_size;
            scale_quants(q + first, groups.group_size, d * static_cast<float>(groups.scales[g]),
                         dmin * static_cast<float>(groups.mins[g]), y + first);
        }
    }
}

void dequantize_floats(GgmlType type, const void* src, float* dst, int64_t n) {
    if (type == GgmlType::F32) {
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return;
    }
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        dst[i] = type == GgmlType::F16 ? fp16_to_fp32(h[i]) : bf16_to_fp32(h[i]);
    }
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    row_size(type, n);  // throws on an unknown type or a partial block
    if (detail::is_iq_super_block(type)) return detail::dequantize_iq(type, src, dst, n);
    const bool blocked = detail::visit_block_type(type, [&](auto tag) {
        using Block = decltype(tag);
        const auto* blocks = static_cast<const Block*>(src);
        const int64_t count = n / Block::elements;
        if constexpr (detail::GroupedBlock<Block>) {
            dequantize_groups(blocks, count, dst);
        } else {
            dequantize_simple(blocks, count, dst);
        }
    });
    if (!blocked) dequantize_floats(type, src, dst, n);
}

}  // namespace natter
