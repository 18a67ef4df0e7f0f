#pragma once
// The compute kernels of the engine behind one table, picked once at start-up for the CPU:
// AVX2 + FMA + F16C when the CPU has them, else the portable reference kernels (quant.h),
// which also serve as the test oracle.
//
// The AVX2 kernels add up in exactly the order llama.cpp's x86 CPU backend does (its 8-lane
// accumulators, its horizontal sums, its fused multiply-adds, its vectorised expf), so that
// on the same CPU our forward pass is bit for bit its forward pass. llama.cpp does not sum a
// dot product the same way everywhere: a lone activation row (token generation) goes through
// ggml's vec_dot kernels, a batch of rows (prompt evaluation) through llamafile's tinyBLAS,
// through GEMM on weights it repacked at load time, or through its tiled k-quant kernel.
// DotPath names these orders; the caller (inference/ops) knows which one llama.cpp would take.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quant/types.h"

namespace natter {

enum class DotPath {
    Vector,    // ggml's vec_dot: one activation row
    TinyBlas,  // llamafile tinyBLAS: batches on F32, F16, BF16, Q8_0, Q4_0, Q5_0 weights
    Repacked,      // GEMV on weights llama.cpp interleaves at load time (Q4_0 and Q4_K)
    RepackedGemm,  // GEMM on them, for the rows of a batch in full groups of 4
    Tiled,     // the tiled k-quant kernel: batches of 8 or more rows on Q2_K..Q6_K weights
};

// Converts n floats into an activation row of a vec_dot type (Q8_0, Q8_1, Q8_K, F16, BF16, F32).
using QuantizeRowFn = void (*)(const float* x, void* dst, int64_t n);
// Dot product of a weight row with an activation row (n elements).
using VecDotFn = float (*)(int64_t n, const void* weights, const void* activations);
// Many dot products at once: out[a * out_stride + r] = the VecDotFn of the same type and
// path applied to weight row r (w + r * w_stride) and activation row a (act + a * act_stride),
// for r < n_rows and a < n_acts, bit for bit. Weights and activations loaded into registers
// serve several outputs, and no call is made per output.
using TileDotFn = void (*)(int64_t n, const void* w, size_t w_stride, int n_rows, const void* act, size_t act_stride,
                           int n_acts, float* out, size_t out_stride);
// Dot product of two rows of IEEE halves.
using HalfDotFn = float (*)(int64_t n, const uint16_t* x, const uint16_t* y);

struct Kernels {
    std::string_view name;  // "avx2" or "reference"

    // The activation quantizer for a vec_dot type (never null for a supported type).
    QuantizeRowFn (*quantize_row)(GgmlType act_type);
    // The dot product of weight type with its vec_dot type in the given order. Paths that
    // llama.cpp does not use for a type fall back to DotPath::Vector.
    VecDotFn (*vec_dot)(GgmlType weight_type, DotPath path);
    // The tiled form of vec_dot(weight_type, path), or nullptr where there is none.
    TileDotFn (*tile_dot)(GgmlType weight_type, DotPath path);
    // tile_dot(weight_type, path) on weight rows packed at load (quant/packed.h): w the packed
    // rows, w_stride = packed_row_bytes, n_rows a multiple of 16; the same bits. nullptr where
    // these kernels do not read the packed layout (the model then keeps the file's rows).
    TileDotFn (*packed_tile_dot)(GgmlType weight_type, DotPath path);

    // Attention: Q·K and P·V on the F16 cache, as ggml_vec_dot_f16 (one query row) and as
    // tinyBLAS (a batch of query rows) sum them.
    HalfDotFn dot_f16;
    HalfDotFn dot_f16_batch;
    // dot_f16 with y already widened to floats (every y[i] an F16 value), bit for bit.
    float (*dot_f16_widened_y)(int64_t n, const uint16_t* x, const float* y);
    // dot_f16 with x and y both widened to floats, bit for bit (a K row widened once serves
    // every query head of its group).
    float (*dot_f16_widened)(int64_t n, const float* x, const float* y);
    // out[r] = dot_f16_widened_y(n, x + r * x_stride, y) for r < n_rows, bit for bit (a lone
    // query row against the K rows of the cache).
    void (*dot_f16_rows_widened_y)(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const float* y, float* out);
    // out[r] = dot_f16_batch(n, x + r * x_stride, y) for r < n_rows, bit for bit.
    void (*dot_f16_batch_rows)(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const uint16_t* y, float* out);
    // The same on halves already widened to floats (every x and y an F16 value), bit for bit:
    // rows used many times are widened once.
    void (*dot_f16_batch_rows_widened)(int64_t n, const float* x, size_t x_stride, int n_rows, const float* y,
                                       float* out);
    // dst[i] = fp32_to_fp16(x[i]) (round to nearest even, as F16C does).
    void (*fp32_to_fp16_row)(const float* x, uint16_t* dst, int64_t n);
    // dst[i] = x[i] as a float (exact).
    void (*fp16_to_fp32_row)(const uint16_t* x, float* dst, int64_t n);
    // y[i] = exp(x[i] - max) with ggml's vectorised expf; returns the sum of the y[i] added
    // as ggml_vec_soft_max_f32 adds them (float sums of 8, accumulated in double).
    double (*softmax_exp)(int64_t n, float* y, const float* x, float max);
    // out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
    void (*swiglu)(int64_t n, const float* gate, const float* up, float* out);
    // Flash attention's F16 accumulator, as ggml_vec_mad_f16 and ggml_vec_scale_f16 round it:
    // y[i] = fp16(fma(x[i], v, y[i])) and y[i] = fp16(y[i] * v), x and y halves.
    void (*mad_f16)(int64_t n, uint16_t* y, const uint16_t* x, float v);
    // mad_f16 with x widened to floats (every x[i] an F16 value), bit for bit.
    void (*mad_f16_widened)(int64_t n, uint16_t* y, const float* x, float v);
    void (*scale_f16)(int64_t n, uint16_t* y, float v);
    // C[m x n] += A[m x k] * B[k x n] (row strides lda, ldb, ldc), each output one fused
    // multiply-add per k in order of k, as ggml's simd_gemm (flash attention's tiled path).
    void (*gemm_f32_fma)(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c,
                         size_t ldc);
};

// The summation order of prompt batches. Llama (the default): llama.cpp's for every output,
// bit for bit (DotPath). Fast: natter's own where it has a faster kernel for the weight type
// on this CPU (fast_batch_tile), for batches of kFastBatchRows+ rows; the logits then differ
// from llama.cpp's in the last bits. Generation and everything else keep llama.cpp's order.
enum class BatchOrder { Llama, Fast };
void set_batch_order(BatchOrder order);  // process-wide (--batch-order)
BatchOrder batch_order();
inline constexpr int kFastBatchRows = 16;
// The fast order's tile for a weight type on this CPU, or nullptr where there is none (it is
// Q4_1, Q5_0, Q5_1 and Q8_0 with AVX-512 VNNI): out as TileDotFn, each output as
// fast_batch_dot sums it, except weight rows past the last multiple of 16, which keep
// llama.cpp's order.
TileDotFn fast_batch_tile(GgmlType weight_type);
// The fast order of one output, in portable code: per 32-element block, the integer sum of
// the products, acc = fma(float(sum), d_w * d_a, acc), then (Q4_1, Q5_1: Q8_1 activations)
// acc = fma(m_w, s_a, acc). Q4_1, Q5_0, Q5_1 and Q8_0; 0 for other types.
float fast_batch_dot(GgmlType weight_type, int64_t n, const void* w, const void* act);

// The kernels for this CPU: AVX2 if available (with the AVX-512 VNNI forms of some batch
// kernels where the CPU has it, quant/simd_avx512.h; NATTER_KERNELS=avx2 leaves them out),
// unless NATTER_KERNELS=reference is set.
const Kernels& kernels();
// The portable reference kernels.
const Kernels& reference_kernels();
// The AVX2 + FMA + F16C kernels, or nullptr when this CPU (or this build) lacks them.
const Kernels* avx2_kernels();

}  // namespace natter
