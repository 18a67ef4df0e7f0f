#pragma once
// Row-level operations on every supported type. These are the reference (portable)
// kernels; SIMD versions are picked at start-up behind the same signatures.
#include <cstdint>

#include "quant/types.h"

namespace natter {

// Element conversions (IEEE half, bfloat16), round-to-nearest-even like the GGUF tools.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

// dst[0..n) = the n values stored in src. n must be a multiple of the block size.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Quantize n floats into dst (row_size(type, n) bytes), the reference way
// (what llama.cpp's quantize does without an importance matrix). IQ2_XXS, IQ2_XS and IQ1_S
// cannot be made without one: they throw natter::Error, as llama.cpp asserts.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// The same with an importance matrix: quant_weights[i] is column i's mean squared activation
// (tools/imatrix.h), and the types that use one (Q4_0, Q4_1, Q5_0, Q5_1, the k-quants, IQ4_NL,
// IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M) are quantized as llama.cpp's
// quantize_row_*_impl do with it. Returns false (and quantizes as quantize_row does) for a
// type that takes none (Q8_0, TQ1_0, TQ2_0).
bool quantize_row_imatrix(GgmlType type, const float* src, const float* quant_weights, void* dst, int64_t n);
// The types quantize_row cannot make (IQ2_XXS, IQ2_XS, IQ1_S): llama.cpp's
// ggml_quantize_requires_imatrix.
bool quantize_requires_imatrix(GgmlType type);

// Quantize an activation row into a vec_dot_type the way llama.cpp's x86 CPU backend does
// before a matrix-vector product, so that our logits follow its logits: for Q8_0 and Q8_1
// it scales by 127 / max|x| and rounds half to even, which now and then lands one step away
// from quantize_row's reference rounding. Every other type is quantized as by quantize_row.
void quantize_activations(GgmlType type, const float* src, void* dst, int64_t n);

// Dot product of one row of `type` (weights) with one row already in
// traits(type).vec_dot_type (activations, produced by quantize_row of that type).
float vec_dot(GgmlType type, int64_t n, const void* row, const void* act);

}  // namespace natter
