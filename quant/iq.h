#pragma once
// Internal to quant/: the super-block formats whose quants are grid values (IQ4_XS, IQ3_S,
// IQ3_XXS, IQ2_S, IQ2_XS, IQ2_XXS, IQ1_M, IQ1_S) or ternary (TQ1_0, TQ2_0), decoded into one
// shape that dequantization and every dot product are written on, so that each bit layout is
// read in exactly one place (quant/iq.cpp). IQ4_NL, a 32-element block with one scale, is an
// ordinary single-scale block (unpack.h).
#include <cstdint>

#include "quant/blocks.h"
#include "quant/types.h"

namespace natter::detail {

// How a format's integer sums become floats (llama.cpp's formulas, which differ by format).
enum class IqKind {
    Grid,     // x = ((d * scale) * factor) * q; dot: factor * sum_b (d_w * d_a) * sum_g scale_g (q . a)_g
    Shifted,  // IQ1: x = (d * scale) * (q + delta / 8), delta = +-1 per 8 quants
    Ternary,  // TQ: x = (q - 1) * d, q stored as 0..2
};

struct IqFormat {
    IqKind kind = IqKind::Grid;
    float factor = 1.0f;  // Grid: 1/8 (IQ2), 1/4 (IQ3_XXS) or 1
};

// A decoded super-block.
struct IqBlock {
    float d = 0.0f;           // the block scale (fp16 in the file)
    int8_t q[QK_K];           // signed quants (grid values with their signs; TQ: 0..2)
    int16_t scales[QK_K / 16];  // integer scale of each 16 quants
    int8_t deltas[QK_K / 8];  // IQ1: sign of the 1/8 shift of each 8 quants, else 0
};

// True for the types decoded here.
bool is_iq_super_block(GgmlType type);
IqFormat iq_format(GgmlType type);
// Decodes super-block b of a row of `type`.
void unpack_iq(GgmlType type, const void* row, int64_t b, IqBlock& out);

// Reference dequantization and dot product with a Q8_K row (llama.cpp's portable order).
void dequantize_iq(GgmlType type, const void* src, float* dst, int64_t n);
float vec_dot_iq(GgmlType type, int64_t n, const void* row, const BlockQ8_K* act);

}  // namespace natter::detail
