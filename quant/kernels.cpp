// Kernel selection and the portable reference table.
#include "quant/kernels.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/simd_avx2_table.h"
#include "quant/unpack.h"

namespace natter {
namespace {

template <GgmlType T>
void quantize_ref(const float* x, void* dst, int64_t n) {
    quantize_activations(T, x, dst, n);
}

QuantizeRowFn quantize_row_ref(GgmlType act_type) {
    switch (act_type) {
        case GgmlType::F32: return quantize_ref<GgmlType::F32>;
        case GgmlType::F16: return quantize_ref<GgmlType::F16>;
        case GgmlType::BF16: return quantize_ref<GgmlType::BF16>;
        case GgmlType::Q8_0: return quantize_ref<GgmlType::Q8_0>;
        case GgmlType::Q8_1: return quantize_ref<GgmlType::Q8_1>;
        case GgmlType::Q8_K: return quantize_ref<GgmlType::Q8_K>;
        default: throw Error(std::string(type_name(act_type)) + " is not an activation format.");
    }
}

template <GgmlType T>
float vec_dot_ref(int64_t n, const void* w, const void* a) {
    return vec_dot(T, n, w, a);
}

VecDotFn vec_dot_ref_for(GgmlType type, DotPath) {
    switch (type) {
        case GgmlType::F32: return vec_dot_ref<GgmlType::F32>;
        case GgmlType::F16: return vec_dot_ref<GgmlType::F16>;
        case GgmlType::BF16: return vec_dot_ref<GgmlType::BF16>;
        case GgmlType::Q4_0: return vec_dot_ref<GgmlType::Q4_0>;
        case GgmlType::Q4_1: return vec_dot_ref<GgmlType::Q4_1>;
        case GgmlType::Q5_0: return vec_dot_ref<GgmlType::Q5_0>;
        case GgmlType::Q5_1: return vec_dot_ref<GgmlType::Q5_1>;
        case GgmlType::Q8_0: return vec_dot_ref<GgmlType::Q8_0>;
        case GgmlType::Q8_1: return vec_dot_ref<GgmlType::Q8_1>;
        case GgmlType::Q2_K: return vec_dot_ref<GgmlType::Q2_K>;
        case GgmlType::Q3_K: return vec_dot_ref<GgmlType::Q3_K>;
        case GgmlType::Q4_K: return vec_dot_ref<GgmlType::Q4_K>;
        case GgmlType::Q5_K: return vec_dot_ref<GgmlType::Q5_K>;
        case GgmlType::Q6_K: return vec_dot_ref<GgmlType::Q6_K>;
        case GgmlType::Q8_K: return vec_dot_ref<GgmlType::Q8_K>;
        case GgmlType::IQ4_NL: return vec_dot_ref<GgmlType::IQ4_NL>;
        case GgmlType::IQ4_XS: return vec_dot_ref<GgmlType::IQ4_XS>;
        case GgmlType::IQ3_S: return vec_dot_ref<GgmlType::IQ3_S>;
        case GgmlType::IQ3_XXS: return vec_dot_ref<GgmlType::IQ3_XXS>;
        case GgmlType::IQ2_S: return vec_dot_ref<GgmlType::IQ2_S>;
        case GgmlType::IQ2_XS: return vec_dot_ref<GgmlType::IQ2_XS>;
        case GgmlType::IQ2_XXS: return vec_dot_ref<GgmlType::IQ2_XXS>;
        case GgmlType::IQ1_M: return vec_dot_ref<GgmlType::IQ1_M>;
        case GgmlType::IQ1_S: return vec_dot_ref<GgmlType::IQ1_S>;
        case GgmlType::TQ1_0: return vec_dot_ref<GgmlType::TQ1_0>;
        case GgmlType::TQ2_0: return vec_dot_ref<GgmlType::TQ2_0>;
    }
    throw Error("Tensor type " + std::to_string(static_cast<uint32_t>(type)) + " has no dot product.");
}

TileDotFn no_tile_dot(GgmlType, DotPath) { return nullptr; }

float dot_f16_ref(int64_t n, const uint16_t* x, const uint16_t* y) {
    return vec_dot(GgmlType::F16, n, x, y);
}

void dot_f16_rows_ref(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const uint16_t* y, float* out) {
    for (int r = 0; r < n_rows; ++r) out[r] = dot_f16_ref(n, x + r * x_stride, y);
}

// Back to halves (exact for F16 values), then as dot_f16_ref.
float dot_f16_widened_y_ref(int64_t n, const uint16_t* x, const float* y) {
    std::vector<uint16_t> yh(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) yh[i] = fp32_to_fp16(y[i]);
    return dot_f16_ref(n, x, yh.data());
}

// Back to halves (exact for F16 values), then as dot_f16_ref.
float dot_f16_widened_ref(int64_t n, const float* x, const float* y) {
    std::vector<uint16_t> xh(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) xh[i] = fp32_to_fp16(x[i]);
    return dot_f16_widened_y_ref(n, xh.data(), y);
}

void dot_f16_rows_widened_y_ref(int64_t n, const uint16_t* x, size_t x_stride, int n_rows, const float* y, float* out) {
    for (int r = 0; r < n_rows; ++r) out[r] = dot_f16_widened_y_ref(n, x + r * x_stride, y);
}

// Back to halves (exact for F16 values), then as dot_f16_rows_ref.
void dot_f16_rows_widened_ref(int64_t n, const float* x, size_t x_stride, int n_rows, const float* y, float* out) {
    std::vector<uint16_t> xh(static_cast<size_t>(n)), yh(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) yh[i] = fp32_to_fp16(y[i]);
    for (int r = 0; r < n_rows; ++r) {
        for (int64_t i = 0; i < n; ++i) xh[i] = fp32_to_fp16(x[r * x_stride + i]);
        out[r] = dot_f16_ref(n, xh.data(), yh.data());
    }
}

void fp32_to_fp16_row_ref(const float* x, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(x[i]);
}

void fp16_to_fp32_row_ref(const uint16_t* x, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(x[i]);
}

double softmax_exp_ref(int64_t n, float* y, const float* x, float max) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - max);
        sum += y[i];
    }
    return sum;
}

void swiglu_ref(int64_t n, const float* gate, const float* up, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void mad_f16_ref(int64_t n, uint16_t* y, const uint16_t* x, float v) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(std::fma(fp16_to_fp32(x[i]), v, fp16_to_fp32(y[i])));
}

void mad_f16_widened_ref(int64_t n, uint16_t* y, const float* x, float v) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(std::fma(x[i], v, fp16_to_fp32(y[i])));
}

void scale_f16_ref(int64_t n, uint16_t* y, float v) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(fp16_to_fp32(y[i]) * v);
}

void gemm_f32_fma_ref(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
            float s = c[i * ldc + j];
            for (int kk = 0; kk < k; ++kk) s = std::fma(a[i * lda + kk], b[kk * ldb + j], s);
            c[i * ldc + j] = s;
        }
    }
}

constexpr Kernels kReference = {
    "reference", quantize_row_ref, vec_dot_ref_for, no_tile_dot, no_tile_dot, dot_f16_ref, dot_f16_ref, dot_f16_widened_y_ref,
    dot_f16_widened_ref, dot_f16_rows_widened_y_ref, dot_f16_rows_ref, dot_f16_rows_widened_ref, fp32_to_fp16_row_ref, fp16_to_fp32_row_ref,
    softmax_exp_ref, swiglu_ref, mad_f16_ref, mad_f16_widened_ref, scale_f16_ref, gemm_f32_fma_ref,
};

// AVX2, FMA and F16C from cpuid itself (clang 14's __builtin_cpu_supports knows no "f16c"),
// and the YMM state enabled by the OS (OSXSAVE, then XCR0 bits 1 and 2 through XGETBV).
bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned leaf1 = bit_FMA | bit_OSXSAVE | bit_AVX | bit_F16C;
    if ((c & leaf1) != leaf1) return false;
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6) return false;  // XMM and YMM state saved on context switches
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & bit_AVX2) != 0;
#else
    return false;
#endif
}

}  // namespace

const Kernels& reference_kernels() { return kReference; }

namespace {
std::atomic<BatchOrder> g_batch_order{BatchOrder::Llama};
}  // namespace

void set_batch_order(BatchOrder order) { g_batch_order.store(order, std::memory_order_relaxed); }
BatchOrder batch_order() { return g_batch_order.load(std::memory_order_relaxed); }

TileDotFn fast_batch_tile(GgmlType weight_type) {
    if (&kernels() != avx2_kernels()) return nullptr;  // NATTER_KERNELS=reference, or no AVX2
    return detail::fast_tile_form(weight_type);
}

namespace {

template <typename Block, typename Act>
float fast_dot(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const Act*>(act);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b) {
        int8_t q[32];  // signed quants (the offset formats' unsigned ones)
        detail::unpack(x[b], q);
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) sum += q[j] * y[b].qs[j];
        acc = std::fma(static_cast<float>(sum), fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), acc);
        if constexpr (std::is_same_v<Act, BlockQ8_1>) acc = std::fma(fp16_to_fp32(x[b].m), fp16_to_fp32(y[b].s), acc);
    }
    return acc;
}

}  // namespace

float fast_batch_dot(GgmlType weight_type, int64_t n, const void* w, const void* act) {
    switch (weight_type) {
        case GgmlType::Q4_1: return fast_dot<BlockQ4_1, BlockQ8_1>(n, w, act);
        case GgmlType::Q5_0: return fast_dot<BlockQ5_0, BlockQ8_0>(n, w, act);
        case GgmlType::Q5_1: return fast_dot<BlockQ5_1, BlockQ8_1>(n, w, act);
        case GgmlType::Q8_0: return fast_dot<BlockQ8_0, BlockQ8_0>(n, w, act);
        default: return 0.0f;
    }
}

const Kernels* avx2_kernels() {
    static const Kernels* table = cpu_has_avx2() ? detail::avx2_table() : nullptr;
    return table;
}

const Kernels& kernels() {
    static const Kernels& chosen = [] () -> const Kernels& {
        const char* forced = std::getenv("NATTER_KERNELS");
        if (forced && std::strcmp(forced, "reference") == 0) return kReference;
        const Kernels* avx2 = avx2_kernels();
        return avx2 ? *avx2 : kReference;
    }();
    return chosen;
}

}  // namespace natter
