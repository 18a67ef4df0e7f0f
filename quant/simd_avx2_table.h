#pragma once
// Internal to quant/: the AVX2 kernel table (simd_avx2_*.cpp, compiled with -mavx2 -mfma
// -mf16c). Only kernels.cpp calls this, and only after checking the CPU.
#include "quant/kernels.h"

namespace natter::detail {

const Kernels* avx2_table();

}  // namespace natter::detail
