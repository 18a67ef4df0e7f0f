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
// (what llama.cpp's quantize does without an importance matrix).
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// Dot product of one row of `type` (weights) with one row already in
// traits(type).vec_dot_type (activations, produced by quantize_row of that type).
float vec_dot(GgmlType type, int64_t n, const void* row, const void* act);

}  // namespace natter
