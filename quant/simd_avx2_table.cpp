// The AVX2 kernel table: which kernel llama.cpp's x86 backend uses for each type and path.
#include "quant/simd_avx2_table.h"

#include "core/error.h"
#include "quant/simd_avx2.h"
#include "quant/simd_avx512.h"

namespace natter::detail {
namespace {

QuantizeRowFn quantize_row(GgmlType act_type) {
    switch (act_type) {
        case GgmlType::Q8_0: return avx2::quantize_row_q8_0;
        case GgmlType::Q8_1: return avx2::quantize_row_q8_1;
        case GgmlType::Q8_K: return avx2::quantize_row_q8_k;
        case GgmlType::F16: return avx2::quantize_row_f16;
        case GgmlType::BF16: return avx2::quantize_row_bf16;
        default: return reference_kernels().quantize_row(act_type);  // F32: a copy
    }
}

VecDotFn vec_dot(GgmlType type, DotPath path) {
    const bool tinyblas = path == DotPath::TinyBlas;
    const bool tiled = path == DotPath::Tiled;
    const bool repacked = path == DotPath::Repacked || path == DotPath::RepackedGemm;
    switch (type) {
        case GgmlType::F32: return tinyblas ? avx2::tinyblas_dot_f32 : avx2::vec_dot_f32;
        case GgmlType::F16: return tinyblas ? avx2::tinyblas_dot_f16 : avx2::vec_dot_f16;
        case GgmlType::BF16: return tinyblas ? avx2::tinyblas_dot_bf16 : avx2::vec_dot_bf16;
        case GgmlType::Q4_0:  // GEMV and GEMM sum alike
            return repacked ? avx2::vec_dot_q4_0_repacked : avx2::vec_dot_q4_0;
        case GgmlType::Q4_1: return avx2::vec_dot_q4_1;
        case GgmlType::Q5_0: return avx2::vec_dot_q5_0;
        case GgmlType::Q5_1: return avx2::vec_dot_q5_1;
        case GgmlType::Q8_0: return avx2::vec_dot_q8_0;
        case GgmlType::Q2_K: return tiled ? avx2::tiled_dot_q2_k : avx2::vec_dot_q2_k;
        case GgmlType::Q3_K: return tiled ? avx2::tiled_dot_q3_k : avx2::vec_dot_q3_k;
        case GgmlType::Q4_K:
            if (path == DotPath::RepackedGemm) return avx2::vec_dot_q4_k_repacked_gemm;
            if (path == DotPath::Repacked) return avx2::vec_dot_q4_k_repacked;
            return tiled ? avx2::tiled_dot_q4_k : avx2::vec_dot_q4_k;
        case GgmlType::Q5_K: return tiled ? avx2::tiled_dot_q5_k : avx2::vec_dot_q5_k;
        case GgmlType::Q6_K: return tiled ? avx2::tiled_dot_q6_k : avx2::vec_dot_q6_k;
        case GgmlType::IQ4_NL:
            if (repacked) return avx2::vec_dot_iq4_nl_repacked;
            return tinyblas ? avx2::tinyblas_dot_iq4_nl : avx2::vec_dot_iq4_nl;
        default:
            if (tiled) {
                if (const VecDotFn iq = avx2::tiled_dot_iq_super_block(type)) return iq;
            }
            if (const VecDotFn iq = avx2::vec_dot_iq_super_block(type)) return iq;
            return reference_kernels().vec_dot(type, path);  // Q8_1, Q8_K: never weights in practice
    }
}

// The AVX-512 form where this CPU has one, else the AVX2 form (128-bit halves where the CPU
// splits 256-bit operations).
TileDotFn tile_dot(GgmlType type, DotPath path) {
    if (const TileDotFn wide = avx512_tile_dot_form(type, path)) return wide;
    return avx2_tile_dot_form(type, path, avx2::splits_256_bit_ops());
}

TileDotFn packed_tile_dot(GgmlType type, DotPath path) { return packed_tile_dot_form(type, path, avx512::has_avx512_vnni()); }

float dot_f16(int64_t n, const uint16_t* x, const uint16_t* y) { return avx2::vec_dot_f16(n, x, y); }
float dot_f16_batch(int64_t n, const uint16_t* x, const uint16_t* y) { return avx2::tinyblas_dot_f16(n, x, y); }

// Flash attention's F32 GEMM: the AVX-512 form where this CPU has it (the same bits).
void gemm_f32_fma(int m, int k, int n, const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc) {
    static const GemmF32Fn form = gemm_f32_fma_form(true);
    form(m, k, n, a, lda, b, ldb, c, ldc);
}

constexpr Kernels kAvx2 = {
    "avx2", quantize_row, vec_dot, tile_dot, packed_tile_dot, dot_f16, dot_f16_batch, avx2::vec_dot_f16_widened_y,
    avx2::vec_dot_f16_widened, avx2::vec_dot_f16_rows_widened_y, avx2::tinyblas_dot_f16_rows, avx2::tinyblas_dot_f16_rows_widened, avx2::fp32_to_fp16_row,
    avx2::fp16_to_fp32_row, avx2::softmax_exp, avx2::swiglu, avx2::mad_f16, avx2::mad_f16_widened, avx2::scale_f16,
    gemm_f32_fma,
};

}  // namespace

const Kernels* avx2_table() { return &kAvx2; }

GemmF32Fn gemm_f32_fma_form(bool wide) {
    return wide && avx512::has_avx512_vnni() ? avx512::gemm_f32_fma : avx2::gemm_f32_fma;
}

TileDotFn avx2_tile_dot_form(GgmlType type, DotPath path, bool halves) {
    const bool repacked = path == DotPath::Repacked || path == DotPath::RepackedGemm;
    switch (type) {
        case GgmlType::Q4_0: return repacked ? avx2::tile_q4_0_repacked : avx2::tile_q4_0;
        case GgmlType::Q4_1: return halves ? avx2::tile_q4_1_halves : avx2::tile_q4_1;
        case GgmlType::Q5_0: return avx2::tile_q5_0;
        case GgmlType::Q5_1: return avx2::tile_q5_1;
        case GgmlType::Q8_0: return halves ? avx2::tile_q8_0_halves : avx2::tile_q8_0;
        case GgmlType::Q4_K:
            if (path == DotPath::RepackedGemm) return avx2::tile_q4_k_repacked_gemm;
            return path == DotPath::Repacked ? avx2::tile_q4_k_repacked : nullptr;
        case GgmlType::Q6_K: return path == DotPath::Tiled ? avx2::tile_q6_k_tiled : avx2::tile_q6_k;
        default: return nullptr;
    }
}

TileDotFn avx512_tile_dot_form(GgmlType type, DotPath path) {
    if (!avx512::has_avx512_vnni()) return nullptr;
    if (type == GgmlType::Q4_K && path == DotPath::RepackedGemm) return avx512::tile_q4_k_repacked_gemm;
    if (type == GgmlType::Q6_K && path == DotPath::Tiled) return avx512::tile_q6_k_tiled;
    if (type == GgmlType::Q8_0) return avx512::tile_q8_0;
    if (type == GgmlType::Q4_0 && (path == DotPath::Repacked || path == DotPath::RepackedGemm)) return avx512::tile_q4_0_repacked;
    if (type == GgmlType::Q4_0) return avx512::tile_q4_0;
    if (type == GgmlType::Q4_1) return avx512::tile_q4_1;
    if (type == GgmlType::Q5_0) return avx512::tile_q5_0;
    if (type == GgmlType::Q5_1) return avx512::tile_q5_1;
    return nullptr;
}

TileDotFn packed_tile_dot_form(GgmlType type, DotPath path, bool wide) {
    if (wide && !avx512::has_avx512_vnni()) return nullptr;
    if (type == GgmlType::Q4_0 && (path == DotPath::Repacked || path == DotPath::RepackedGemm)) {
        return wide ? avx512::tile_q4_0_packed : avx2::tile_q4_0_packed;
    }
    if (type == GgmlType::Q4_K && wide && path == DotPath::Repacked) return avx512::tile_q4_k_packed;
    if (type == GgmlType::Q4_K && wide && path == DotPath::RepackedGemm) return avx512::tile_q4_k_packed_gemm;
    return nullptr;  // Q4_K on AVX2: the rows stay in the file's layout (simd_avx2.h says why)
}

TileDotFn fast_tile_form(GgmlType type) {
    if (!avx512::has_avx512_vnni()) return nullptr;
    switch (type) {
        case GgmlType::Q4_1: return avx512::fast_tile_q4_1;
        case GgmlType::Q5_0: return avx512::fast_tile_q5_0;
        case GgmlType::Q5_1: return avx512::fast_tile_q5_1;
        case GgmlType::Q8_0: return avx512::fast_tile_q8_0;
        default: return nullptr;
    }
}

}  // namespace natter::detail
