#pragma once
// Internal to quant/simd_*: how the F32 GEMM of flash attention's tiled path
// (Kernels::gemm_f32_fma) walks the rows of C, in every instruction-set form: blocks of six
// rows, then the last rows as one block of their own height, so that each B row is loaded once
// for every row of a block. Internal linkage, as simd_rows8.h, so each form keeps its copy.
namespace natter {
namespace {

// rows.template operator()<R>(i): rows [i, i + R) of C.
template <typename Rows>
inline void gemm_row_blocks(int m, Rows&& rows) {
    int i = 0;
    for (; i + 6 <= m; i += 6) rows.template operator()<6>(i);
    switch (m - i) {
        case 5: rows.template operator()<5>(i); break;
        case 4: rows.template operator()<4>(i); break;
        case 3: rows.template operator()<3>(i); break;
        case 2: rows.template operator()<2>(i); break;
        case 1: rows.template operator()<1>(i); break;
        default: break;
    }
}

}  // namespace
}  // namespace natter
