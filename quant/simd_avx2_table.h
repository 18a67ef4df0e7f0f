#pragma once
// Internal to quant/: the AVX2 kernel table (simd_avx2_*.cpp, compiled with -mavx2 -mfma
// -mf16c). Only kernels.cpp calls this, and only after checking the CPU.
#include "quant/kernels.h"

namespace natter::detail {

const Kernels* avx2_table();

// The tiled kernel of a type and path in the form chosen (halves: 128-bit halves, else 256-bit
// vectors) where a type has both; the table picks one by CPU, the tests check both.
TileDotFn avx2_tile_dot_form(GgmlType type, DotPath path, bool halves);

}  // namespace natter::detail
