// Decoding of the IQ and ternary super-blocks (quant/iq.h), and their reference
// dequantization and dot products, in the float order of llama.cpp's portable code.
#include "quant/iq.h"

#include <cstring>

#include "core/error.h"
#include "quant/iq_tables.h"
#include "quant/quant.h"

namespace natter::detail {
namespace {

uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// 8 grid bytes (the magnitudes of 8 quants, or IQ1's signed values) at q.
void grid8(uint64_t grid, int8_t* q) { std::memcpy(q, &grid, 8); }
void grid4(uint32_t grid, int8_t* q) { std::memcpy(q, &grid, 4); }

// Negates quant j of q[0..n) where bit j of signs is set.
void apply_signs(uint8_t signs, int8_t* q, int n) {
    for (int j = 0; j < n; ++j) {
        if (signs & (1u << j)) q[j] = static_cast<int8_t>(-q[j]);
    }
}

void set_scales32(IqBlock& out, int g, int lo, int hi) {
    out.scales[2 * g] = static_cast<int16_t>(lo);
    out.scales[2 * g + 1] = static_cast<int16_t>(hi);
}

void unpack(const BlockIQ4_XS& x, IqBlock& out) {
    for (int g = 0; g < 8; ++g) {
        const int ls = ((x.scales_l[g / 2] >> 4 * (g % 2)) & 0xf) | (((x.scales_h >> 2 * g) & 3) << 4);
        set_scales32(out, g, ls - 32, ls - 32);
        for (int j = 0; j < 16; ++j) {
            out.q[32 * g + j] = kIq4nlValues[x.qs[16 * g + j] & 0xf];
            out.q[32 * g + 16 + j] = kIq4nlValues[x.qs[16 * g + j] >> 4];
        }
    }
}

void unpack(const BlockIQ2_XXS& x, IqBlock& out) {
    for (int g = 0; g < 8; ++g) {
        const uint32_t indices = load_u32(x.qs + 4 * g);
        const uint32_t signs = load_u32(x.qs + 4 * g + 2);
        const int ls = 2 * static_cast<int>(signs >> 28) + 1;
        set_scales32(out, g, ls, ls);
        for (int l = 0; l < 4; ++l) {
            int8_t* q = out.q + 32 * g + 8 * l;
            grid8(kIq2xxsGrid[(indices >> 8 * l) & 0xff], q);
            apply_signs(kIqSigns[(signs >> 7 * l) & 127], q, 8);
        }
    }
}

void unpack(const BlockIQ2_XS& x, IqBlock& out) {
    for (int g = 0; g < 8; ++g) {
        set_scales32(out, g, 2 * (x.scales[g] & 0xf) + 1, 2 * (x.scales[g] >> 4) + 1);
        for (int l = 0; l < 4; ++l) {
            int8_t* q = out.q + 32 * g + 8 * l;
            grid8(kIq2xsGrid[x.qs[4 * g + l] & 511], q);
            apply_signs(kIqSigns[x.qs[4 * g + l] >> 9], q, 8);
        }
    }
}

void unpack(const BlockIQ2_S& x, IqBlock& out) {
    const uint8_t* signs = x.qs + QK_K / 8;
    for (int g = 0; g < 8; ++g) {
        set_scales32(out, g, 2 * (x.scales[g] & 0xf) + 1, 2 * (x.scales[g] >> 4) + 1);
        for (int l = 0; l < 4; ++l) {
            int8_t* q = out.q + 32 * g + 8 * l;
            grid8(kIq2sGrid[x.qs[4 * g + l] | ((x.qh[g] << (8 - 2 * l)) & 0x300)], q);
            apply_signs(signs[4 * g + l], q, 8);
        }
    }
}

void unpack(const BlockIQ3_XXS& x, IqBlock& out) {
    const uint8_t* scales_and_signs = x.qs + QK_K / 4;
    for (int g = 0; g < 8; ++g) {
        const uint32_t aux = load_u32(scales_and_signs + 4 * g);
        const int ls = 2 * static_cast<int>(aux >> 28) + 1;
        set_scales32(out, g, ls, ls);
        for (int l = 0; l < 4; ++l) {
            int8_t* q = out.q + 32 * g + 8 * l;
            grid4(kIq3xxsGrid[x.qs[8 * g + 2 * l]], q);
            grid4(kIq3xxsGrid[x.qs[8 * g + 2 * l + 1]], q + 4);
            apply_signs(kIqSigns[(aux >> 7 * l) & 127], q, 8);
        }
    }
}

void unpack(const BlockIQ3_S& x, IqBlock& out) {
    for (int g = 0; g < 8; ++g) {
        const int ls = 2 * ((x.scales[g / 2] >> 4 * (g % 2)) & 0xf) + 1;
        set_scales32(out, g, ls, ls);
        const uint8_t* qs = x.qs + 8 * g;
        for (int l = 0; l < 4; ++l) {
            int8_t* q = out.q + 32 * g + 8 * l;
            grid4(kIq3sGrid[qs[2 * l] | ((x.qh[g] << (8 - 2 * l)) & 256)], q);
            grid4(kIq3sGrid[qs[2 * l + 1] | ((x.qh[g] << (7 - 2 * l)) & 256)], q + 4);
            apply_signs(x.signs[4 * g + l], q, 8);
        }
    }
}

void unpack(const BlockIQ1_S& x, IqBlock& out) {
    for (int g = 0; g < 8; ++g) {
        const int ls = 2 * ((x.qh[g] >> 12) & 7) + 1;
        set_scales32(out, g, ls, ls);
        for (int l = 0; l < 4; ++l) {
            grid8(kIq1sGrid[x.qs[4 * g + l] | (((x.qh[g] >> 3 * l) & 7) << 8)], out.q + 32 * g + 8 * l);
            out.deltas[4 * g + l] = (x.qh[g] & 0x8000) ? -1 : 1;
        }
    }
}

void unpack(const BlockIQ1_M& x, IqBlock& out) {
    uint16_t sc[4];
    std::memcpy(sc, x.scales, sizeof(sc));
    const uint16_t d = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                             (sc[3] & 0xf000));
    out.d = fp16_to_fp32(d);
    for (int g = 0; g < 8; ++g) {
        const int shift = 6 * (g % 2);
        set_scales32(out, g, 2 * ((sc[g / 2] >> shift) & 7) + 1, 2 * ((sc[g / 2] >> (shift + 3)) & 7) + 1);
        const uint8_t* qs = x.qs + 4 * g;
        const uint8_t* qh = x.qh + 2 * g;
        for (int l = 0; l < 4; ++l) {
            const uint8_t h = qh[l / 2];
            const int index = qs[l] | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700);
            grid8(kIq1sGrid[index], out.q + 32 * g + 8 * l);
            out.deltas[4 * g + l] = (h & (l % 2 == 0 ? 0x08 : 0x80)) ? -1 : 1;
        }
    }
}

// A base-3 digit: byte q holds digits as the fraction q / 256; multiplying by 3^n moves digit
// n to the top, and (q * 3) >> 8 reads it.
int8_t ternary_digit(uint8_t byte, int n) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const auto q = static_cast<uint8_t>(byte * kPow3[n]);
    return static_cast<int8_t>((static_cast<uint16_t>(q) * 3) >> 8);
}

void unpack(const BlockTQ1_0& x, IqBlock& out) {
    for (int n = 0; n < 5; ++n) {
        for (int m = 0; m < 32; ++m) out.q[32 * n + m] = ternary_digit(x.qs[m], n);
        for (int m = 0; m < 16; ++m) out.q[160 + 16 * n + m] = ternary_digit(x.qs[32 + m], n);
    }
    for (int n = 0; n < 4; ++n) {
        for (int j = 0; j < 4; ++j) out.q[240 + 4 * n + j] = ternary_digit(x.qh[j], n);
    }
}

void unpack(const BlockTQ2_0& x, IqBlock& out) {
    for (int j = 0; j < 2; ++j) {
        for (int l = 0; l < 4; ++l) {
            for (int m = 0; m < 32; ++m) out.q[128 * j + 32 * l + m] = static_cast<int8_t>((x.qs[32 * j + m] >> 2 * l) & 3);
        }
    }
}

template <typename Block>
void unpack_at(const void* row, int64_t b, IqBlock& out) {
    const Block& x = static_cast<const Block*>(row)[b];
    std::memset(out.deltas, 0, sizeof(out.deltas));
    for (int16_t& s : out.scales) s = 1;
    if constexpr (requires { x.d; }) out.d = fp16_to_fp32(x.d);
    unpack(x, out);
}

}  // namespace

bool is_iq_super_block(GgmlType type) {
    switch (type) {
        case GgmlType::IQ4_XS: case GgmlType::IQ3_S: case GgmlType::IQ3_XXS: case GgmlType::IQ2_S:
        case GgmlType::IQ2_XS: case GgmlType::IQ2_XXS: case GgmlType::IQ1_M: case GgmlType::IQ1_S:
        case GgmlType::TQ1_0: case GgmlType::TQ2_0:
            return true;
        default:
            return false;
    }
}

IqFormat iq_format(GgmlType type) {
    switch (type) {
        case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S: return {IqKind::Grid, 0.125f};
        case GgmlType::IQ3_XXS: return {IqKind::Grid, 0.25f};
        case GgmlType::IQ1_S: case GgmlType::IQ1_M: return {IqKind::Shifted, 1.0f};
        case GgmlType::TQ1_0: case GgmlType::TQ2_0: return {IqKind::Ternary, 1.0f};
        default: return {IqKind::Grid, 1.0f};  // IQ4_XS, IQ3_S
    }
}

void unpack_iq(GgmlType type, const void* row, int64_t b, IqBlock& out) {
    switch (type) {
        case GgmlType::IQ4_XS: return unpack_at<BlockIQ4_XS>(row, b, out);
        case GgmlType::IQ3_S: return unpack_at<BlockIQ3_S>(row, b, out);
        case GgmlType::IQ3_XXS: return unpack_at<BlockIQ3_XXS>(row, b, out);
        case GgmlType::IQ2_S: return unpack_at<BlockIQ2_S>(row, b, out);
        case GgmlType::IQ2_XS: return unpack_at<BlockIQ2_XS>(row, b, out);
        case GgmlType::IQ2_XXS: return unpack_at<BlockIQ2_XXS>(row, b, out);
        case GgmlType::IQ1_M: return unpack_at<BlockIQ1_M>(row, b, out);
        case GgmlType::IQ1_S: return unpack_at<BlockIQ1_S>(row, b, out);
        case GgmlType::TQ1_0: return unpack_at<BlockTQ1_0>(row, b, out);
        case GgmlType::TQ2_0: return unpack_at<BlockTQ2_0>(row, b, out);
        default: throw Error(std::string(type_name(type)) + " is not an IQ super-block format.");
    }
}

void dequantize_iq(GgmlType type, const void* src, float* dst, int64_t n) {
    const IqFormat format = iq_format(type);
    IqBlock x;
    for (int64_t b = 0; b < n / QK_K; ++b, dst += QK_K) {
        unpack_iq(type, src, b, x);
        for (int i = 0; i < QK_K; ++i) {
            const float scale = x.d * static_cast<float>(x.scales[i / 16]);
            const float q = static_cast<float>(x.q[i]);
            switch (format.kind) {
                case IqKind::Grid: dst[i] = (scale * format.factor) * q; break;
                case IqKind::Shifted: dst[i] = scale * (q + (x.deltas[i / 8] < 0 ? -0.125f : 0.125f)); break;
                case IqKind::Ternary: dst[i] = (q - 1.0f) * x.d; break;
            }
        }
    }
}

float vec_dot_iq(GgmlType type, int64_t n, const void* row, const BlockQ8_K* act) {
    const IqFormat format = iq_format(type);
    IqBlock x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        unpack_iq(type, row, b, x);
        const BlockQ8_K& a = act[b];
        int scaled = 0;  // sum_g scale_g * (q . a)_g
        int shifts = 0;  // IQ1: sum over 8s of scale * delta * (sum of a)
        for (int g = 0; g < QK_K / 16; ++g) {
            int dot = 0;
            for (int i = 16 * g; i < 16 * g + 16; ++i) {
                const int q = format.kind == IqKind::Ternary ? x.q[i] - 1 : x.q[i];
                dot += q * a.qs[i];
            }
            scaled += x.scales[g] * dot;
            for (int e = 2 * g; e < 2 * g + 2; ++e) {
                int a_sum = 0;
                for (int i = 8 * e; i < 8 * e + 8; ++i) a_sum += a.qs[i];
                shifts += x.scales[g] * x.deltas[e] * a_sum;
            }
        }
        const float d = x.d * a.d;
        switch (format.kind) {
            case IqKind::Grid: sum += d * static_cast<float>(scaled); break;
            case IqKind::Shifted: sum += d * (static_cast<float>(scaled) + 0.125f * static_cast<float>(shifts)); break;
            case IqKind::Ternary: sum += static_cast<float>(scaled) * d; break;
        }
    }
    return format.factor * sum;
}

}  // namespace natter::detail
