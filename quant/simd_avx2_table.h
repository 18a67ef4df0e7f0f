#pragma once
// Internal to quant/: the AVX2 kernel table (simd_avx2_*.cpp, compiled with -mavx2 -mfma
// -mf16c). Only kernels.cpp calls this, and only after checking the CPU.
#include "quant/kernels.h"

namespace natter::detail {

const Kernels* avx2_table();

// The tiled kernel of a type and path in the form chosen (halves: 128-bit halves, else 256-bit
// vectors) where a type has both; the table picks one by CPU, the tests check both.
// The AVX2 form, even where this CPU is given an AVX-512 one.
TileDotFn avx2_tile_dot_form(GgmlType type, DotPath path, bool halves);
// The AVX-512 VNNI form of a type and path (quant/simd_avx512.h), or nullptr where there is
// none or this CPU cannot run it.
TileDotFn avx512_tile_dot_form(GgmlType type, DotPath path);
// The tile on rows packed at load (Kernels::packed_tile_dot) in the AVX-512 VNNI form (wide;
// nullptr where this CPU cannot run it) or the AVX2 form; nullptr for other types and paths.
TileDotFn packed_tile_dot_form(GgmlType type, DotPath path, bool wide);
// Kernels::gemm_f32_fma in the AVX-512 form (wide, where this CPU can run it) or the AVX2 one.
using GemmF32Fn = void (*)(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc);
GemmF32Fn gemm_f32_fma_form(bool wide);
// The fast batch order's tile of a type on this CPU (fast_batch_tile), or nullptr.
TileDotFn fast_tile_form(GgmlType type);

}  // namespace natter::detail
