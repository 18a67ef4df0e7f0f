#pragma once
// Internal to quant/: the AVX-512 forms of some AVX2 kernels, for CPUs with AVX-512 F, BW, VL
// and VNNI (Intel since Ice Lake / Cascade Lake, AMD since Zen 4). Only simd_avx512_*.cpp are
// compiled for that instruction set; the table (simd_avx2_table.cpp) calls them only after
// has_avx512_vnni() said yes.
//
// They give the bits of the AVX2 kernels they stand for: the weight rows are the lanes of a
// vector, as in simd_avx2_rows8.cpp, only 16 of them instead of 8, and every output's float
// steps are the same; the integer sums, exact however they are grouped, come from VNNI's
// vpdpbusd (four byte products and their sum in one instruction) instead of maddubs + madd.
#include <cstddef>
#include <cstdint>

namespace natter::avx512 {

// The CPU has AVX-512 F/BW/VL/VNNI and the OS saves the ZMM state. NATTER_KERNELS=avx2 says no,
// so that the AVX2 forms can be timed and run on such a CPU.
bool has_avx512_vnni();

// avx2::tile_q4_k_repacked_gemm (llama.cpp's repacked Q4_K GEMM order), bit for bit: 16-row
// groups through the AVX-512 kernel when the batch is large enough for its per-tile copy.
void tile_q4_k_repacked_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts,
                             float* out, size_t os);
// avx2::tile_q4_0 / q4_1 / q5_0 / q5_1 / q8_0 (vec_dot's and tinyBLAS's order for the
// 32-element block formats), bit for bit: two weight rows to a ZMM vector, each keeping its 8
// lanes of the AVX2 order, with VNNI's byte products (simd_avx512_blocks.cpp).
void tile_q4_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
void tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out, size_t os);
// avx2::tile_q4_0_repacked (llama.cpp's repacked Q4_0 order), bit for bit: 16-row groups with
// VNNI's byte products, from a per-tile copy for batches of 16+ rows (simd_avx512_q4_0.cpp).
void tile_q4_0_repacked(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                        size_t os);
// natter's fast batch order (fast_batch_tile, quant/kernels.h): 16 rows as the lanes of a ZMM
// vector from a per-tile copy, one float step per block and output; the rows past the last 16
// through tile_q4_1 and the others (llama.cpp's order). simd_avx512_fast.cpp.
void fast_tile_q4_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os);
void fast_tile_q5_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os);
void fast_tile_q5_1(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os);
void fast_tile_q8_0(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                    size_t os);
// tile_q4_0_repacked's batch path (n_acts >= 16): the first n_groups groups of 16 rows, copied
// once as unsigned bytes, in llama.cpp's repacked order (which is the fast order's, with Q4_0's
// bias of 8).
void rows16_copy_q4_0(int64_t n, const void* w, size_t ws, int n_groups, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
// The same from rows packed at load (quant/packed.h).
void rows16_copy_q4_0_packed(int64_t n, const void* w, size_t ws, int n_groups, const void* a, size_t as, int n_acts,
                             float* out, size_t os);
// avx2::tile_q6_k_tiled (the tiled k-quant order), bit for bit, the same way.
void tile_q6_k_tiled(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                     size_t os);

// tile_q4_0_repacked, avx2::tile_q4_k_repacked and tile_q4_k_repacked_gemm on rows packed at
// load (quant/packed.h: w the packed rows, ws = packed_row_bytes, n_rows a multiple of 16),
// bit for bit: generation reads the packed groups as they are, a batch of 16+ rows widens their
// nibbles into the per-tile copy.
void tile_q4_0_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
void tile_q4_k_packed(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                      size_t os);
void tile_q4_k_packed_gemm(int64_t n, const void* w, size_t ws, int n_rows, const void* a, size_t as, int n_acts, float* out,
                           size_t os);

// avx2::gemm_f32_fma (C += A * B, each output one fused multiply-add per k in order of k: flash
// attention's tiled path), bit for bit, 16 columns to a vector (simd_avx512_gemm.cpp).
void gemm_f32_fma(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc);

}  // namespace natter::avx512
