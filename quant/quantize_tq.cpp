// The ternary quantizers (TQ1_0, TQ2_0: BitNet b1.58 and TriLM weights), llama.cpp's
// quantize_row_tq1_0_ref / tq2_0_ref: d = max |x| of the super-block, each quant
// round(x / d) in -1..1 (halves away from zero) stored as 0..2. They take no importance
// matrix, as in llama.cpp.
#include <algorithm>
#include <cmath>

#include "quant/quant.h"
#include "quant/quantize_blocks.h"

namespace natter::detail {
namespace {

// max |x| over the super-block: its scale.
float max_magnitude(const float* x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
    return amax;
}

int trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

// n trits x[0], x[stride], ... (n = 5, or 4 then shifted up one place) as a base-3 fraction
// of 256: the first trit in the most significant place, rounded up so that the dequantizer's
// multiply-by-3 reads them back.
uint8_t pack_trits(const float* x, int stride, int n, float id) {
    int q = 0;
    for (int i = 0; i < n; ++i) q = q * 3 + trit(x[i * stride], id);
    if (n == 4) q *= 3;
    return static_cast<uint8_t>((q * 256 + (243 - 1)) / 243);  // 243 = 3^5
}

}  // namespace

// 48 bytes of 5 trits (elements m + 32 n of the first 160, m + 16 n of the next 80), then 4
// bytes of 4 (the last 16, element j + 4 m).
void quantize(const float* x, BlockTQ1_0& block) {
    const float d = max_magnitude(x);
    const float id = d ? 1.0f / d : 0.0f;
    block.d = fp32_to_fp16(d);
    for (int m = 0; m < 32; ++m) block.qs[m] = pack_trits(x + m, 32, 5, id);
    x += 5 * 32;
    for (int m = 0; m < 16; ++m) block.qs[32 + m] = pack_trits(x + m, 16, 5, id);
    x += 5 * 16;
    for (int j = 0; j < 4; ++j) block.qh[j] = pack_trits(x + j, 4, 4, id);
}

// 2 bits per quant: byte m of each 32 holds elements m, m + 32, m + 64, m + 96 of its 128.
void quantize(const float* x, BlockTQ2_0& block) {
    const float d = max_magnitude(x);
    const float id = d ? 1.0f / d : 0.0f;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 2; ++j) {
        for (int m = 0; m < 32; ++m) {
            int q = 0;
            for (int n = 0; n < 4; ++n) q |= (trit(x[m + 32 * n], id) & 3) << (2 * n);
            block.qs[32 * j + m] = static_cast<uint8_t>(q);
        }
        x += 4 * 32;
    }
}

}  // namespace natter::detail
