#pragma once
// Internal to quant/: reference quantization of one block from Block::elements floats,
// and the bit packing shared by the quantizers (the inverse of unpack.cpp's decoding).
#include <cstdint>

#include "quant/blocks.h"

namespace natter::detail {

void quantize(const float* x, BlockQ4_0& block);
void quantize(const float* x, BlockQ4_1& block);
void quantize(const float* x, BlockQ5_0& block);
void quantize(const float* x, BlockQ5_1& block);
void quantize(const float* x, BlockQ8_0& block);
void quantize(const float* x, BlockQ8_1& block);
void quantize(const float* x, BlockQ8_K& block);

void quantize(const float* x, BlockQ2_K& block);
void quantize(const float* x, BlockQ3_K& block);
void quantize(const float* x, BlockQ4_K& block);
void quantize(const float* x, BlockQ5_K& block);
void quantize(const float* x, BlockQ6_K& block);

void quantize(const float* x, BlockIQ4_NL& block);
void quantize(const float* x, BlockIQ4_XS& block);
void quantize(const float* x, BlockIQ3_XXS& block);  // quantize_iq3.cpp
void quantize(const float* x, BlockIQ3_S& block);
void quantize(const float* x, BlockTQ1_0& block);    // quantize_tq.cpp (no importance matrix)
void quantize(const float* x, BlockTQ2_0& block);
// IQ2_XXS, IQ2_XS and IQ1_S have none: llama.cpp's quantizer asserts an importance matrix.
void quantize(const float* x, BlockIQ2_S& block);
void quantize(const float* x, BlockIQ1_M& block);

// With an importance matrix: qw holds the block's elements' mean squared activations (the
// imatrix's columns), as llama.cpp's quantize_row_*_impl take them. The 32-element formats
// also take sigma2, the mean of x² over the whole row (the k-quants and IQ4 compute theirs
// over the super-block).
void quantize(const float* x, const float* qw, float sigma2, BlockQ4_0& block);
void quantize(const float* x, const float* qw, float sigma2, BlockQ4_1& block);
void quantize(const float* x, const float* qw, float sigma2, BlockQ5_0& block);
void quantize(const float* x, const float* qw, float sigma2, BlockQ5_1& block);
void quantize(const float* x, const float* qw, BlockQ2_K& block);
void quantize(const float* x, const float* qw, BlockQ3_K& block);
void quantize(const float* x, const float* qw, BlockQ4_K& block);
void quantize(const float* x, const float* qw, BlockQ5_K& block);
void quantize(const float* x, const float* qw, BlockQ6_K& block);
void quantize(const float* x, const float* qw, BlockIQ4_NL& block);
void quantize(const float* x, const float* qw, BlockIQ4_XS& block);
void quantize(const float* x, const float* qw, BlockIQ3_XXS& block);
void quantize(const float* x, const float* qw, BlockIQ3_S& block);
void quantize(const float* x, const float* qw, BlockIQ2_XXS& block);  // quant/quantize_iq2.cpp
void quantize(const float* x, const float* qw, BlockIQ2_XS& block);
void quantize(const float* x, const float* qw, BlockIQ2_S& block);
void quantize(const float* x, const float* qw, BlockIQ1_S& block);
void quantize(const float* x, const float* qw, BlockIQ1_M& block);

// 2 * half quants (0..15) as nibbles: element l low, element half + l high in byte l.
inline void pack_nibbles(const uint8_t* L, int half, uint8_t* out) {
    for (int l = 0; l < half; ++l) {
        out[l] = static_cast<uint8_t>((L[l] & 0x0f) | ((L[half + l] & 0x0f) << 4));
    }
}

// 128 quants (0..3) as bit pairs: element 32 * j + l goes to bits 2j..2j+1 of byte l.
inline void pack_bit_pairs(const uint8_t L[128], uint8_t out[32]) {
    for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<uint8_t>(L[l] | (L[l + 32] << 2) | (L[l + 64] << 4) | (L[l + 96] << 6));
    }
}

}  // namespace natter::detail
