// The IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M quantizers, step for step llama.cpp's
// quantize_row_*_impl (ggml-quants.c) as its quantize tool runs them, so that the bytes
// written are its bytes. Each group of 8 quants is a point of the format's grid: a group's
// levels are rounded for a trial scale, and a pattern that is not a grid point is replaced
// by the best of its nearest grid points, from the search tables that ggml's
// iq2xs_init_impl builds (here from the grids of iq_tables.cpp, once per grid).
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/iq_tables.h"
#include "quant/kquant_search.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"

namespace natter::detail {
namespace {

// A group's pattern: the level (0..2) of each of its 8 quants in 2 bits, quant i in bits
// 2i..2i+1. Levels stand for the odd values 2l + 1 (IQ2: magnitudes; IQ1: -1, 0, 1 + shift).
constexpr int kPatterns = 0xaaaa + 1;

uint16_t pattern_of(const int8_t* L) {
    uint16_t u = 0;
    for (int i = 0; i < 8; ++i) u = static_cast<uint16_t>(u | (L[i] << 2 * i));
    return u;
}

// ggml's grid map and neighbour lists for one grid.
class GridSearch {
public:
    // levels_of(b): the level of grid byte b. nearest: how many of the smallest distinct
    // distances a pattern off the grid keeps the points of (ggml's nwant).
    template <typename LevelOf>
    GridSearch(const uint64_t* grid, int size, LevelOf levels_of, int nearest) : points_(static_cast<size_t>(size)) {
        index_.assign(kPatterns, -1);
        for (int k = 0; k < size; ++k) {
            int8_t bytes[8], levels[8];
            std::memcpy(bytes, &grid[k], 8);
            for (int i = 0; i < 8; ++i) {
                levels[i] = static_cast<int8_t>(levels_of(bytes[i]));
                bytes[i] = static_cast<int8_t>(2 * levels[i] + 1);
            }
            std::memcpy(&points_[static_cast<size_t>(k)], bytes, 8);
            index_[pattern_of(levels)] = k;
        }
        // Every pattern of levels 0..2 off the grid (the quantizers never form level 3): the
        // grid points at its `nearest` smallest squared distances, by distance, then index
        // (the order of ggml's qsort on (distance, index)).
        std::vector<int> d2(static_cast<size_t>(size));
        for (int u = 0; u < kPatterns; ++u) {
            int8_t pos[8];
            bool levels_ok = true;
            for (int i = 0; i < 8; ++i) {
                const int l = (u >> 2 * i) & 3;
                levels_ok = levels_ok && l < 3;
                pos[i] = static_cast<int8_t>(2 * l + 1);
            }
            if (!levels_ok || index_[static_cast<size_t>(u)] >= 0) continue;
            for (int j = 0; j < size; ++j) {
                int8_t pg[8];
                std::memcpy(pg, &points_[static_cast<size_t>(j)], 8);
                int d = 0;
                for (int i = 0; i < 8; ++i) d += (pg[i] - pos[i]) * (pg[i] - pos[i]);
                d2[static_cast<size_t>(j)] = d;
            }
            const size_t start = neighbours_.size();
            index_[static_cast<size_t>(u)] = -1 - static_cast<int32_t>(start);
            neighbours_.push_back(0);
            int below = -1;  // the last distance taken
            for (int n = 0; n < nearest; ++n) {
                int next = INT32_MAX;
                for (const int d : d2) {
                    if (d > below && d < next) next = d;
                }
                if (next == INT32_MAX) break;
                for (int j = 0; j < size; ++j) {
                    if (d2[static_cast<size_t>(j)] == next) neighbours_.push_back(static_cast<uint16_t>(j));
                }
                below = next;
            }
            neighbours_[start] = static_cast<uint16_t>(neighbours_.size() - start - 1);
        }
    }

    // The grid index of pattern u, or -1 when it is off the grid.
    int on_grid(uint16_t u) const { return std::max(-1, index_[u]); }
    // Pattern u's neighbour list (u off the grid): the count, then the grid indices.
    const uint16_t* neighbours(uint16_t u) const { return neighbours_.data() + (-1 - index_[u]); }
    // Grid point k's 8 values 2l + 1.
    const int8_t* point(int k) const { return reinterpret_cast<const int8_t*>(&points_[static_cast<size_t>(k)]); }

private:
    std::vector<uint64_t> points_;
    std::vector<int32_t> index_;  // by pattern: grid index, or -1 - offset of its neighbour list
    std::vector<uint16_t> neighbours_;
};

int iq2_level(int8_t magnitude) {
    switch (magnitude) {
        case 0x08: return 0;
        case 0x19: return 1;
        case 0x2b: return 2;
        default: throw Error("internal error: an IQ2 grid holds the magnitude " + std::to_string(magnitude));
    }
}
int iq1_level(int8_t value) { return value + 1; }

// Built on first use, once (static initialization is thread-safe). IQ1_S and IQ1_M share a
// grid; IQ2_S keeps only the nearest distance, the IQ1 types three, the others two.
const GridSearch& grid_search(GgmlType type) {
    switch (type) {
        case GgmlType::IQ2_XXS: {
            static const GridSearch s(kIq2xxsGrid, 256, iq2_level, 2);
            return s;
        }
        case GgmlType::IQ2_XS: {
            static const GridSearch s(kIq2xsGrid, 512, iq2_level, 2);
            return s;
        }
        case GgmlType::IQ2_S: {
            static const GridSearch s(kIq2sGrid, 1024, iq2_level, 1);
            return s;
        }
        default: {
            static const GridSearch s(kIq1sGrid, 2048, iq1_level, 3);
            return s;
        }
    }
}

[[noreturn]] void no_grid_point(GgmlType type) {
    throw Error("Cannot quantize to " + std::string(type_name(type)) +
                ": the values are too large for its scale search (no grid point at a finite distance).");
}

// IQ2: the neighbour of pattern u nearest scale * grid point in the weighted squared
// distance to xval (iq2_find_best_neighbour); its levels go to L.
int best_neighbour(GgmlType type, const GridSearch& g, uint16_t u, const float* xval, const float* weight,
                   float scale, int8_t* L) {
    const uint16_t* nb = g.neighbours(u);
    float best_d2 = FLT_MAX;
    int grid_index = -1;
    for (int j = 1; j <= nb[0]; ++j) {
        const int8_t* pg = g.point(nb[j]);
        float d2 = 0;
        for (int i = 0; i < 8; ++i) {
            const float q = pg[i];
            const float diff = scale * q - xval[i];
            d2 += weight[i] * diff * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            grid_index = nb[j];
        }
    }
    if (grid_index < 0) no_grid_point(type);
    const int8_t* pg = g.point(grid_index);
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((pg[i] - 1) / 2);
    return grid_index;
}

// IQ1: the same with the grid's levels standing for xg[level] (iq1_find_best_neighbour2).
int best_neighbour_iq1(GgmlType type, const GridSearch& g, uint16_t u, const float* xval, const float* weight,
                       float scale, const float* xg, int8_t* L) {
    const uint16_t* nb = g.neighbours(u);
    float best_score = FLT_MAX;
    int grid_index = -1;
    for (int j = 1; j <= nb[0]; ++j) {
        const int8_t* pg = g.point(nb[j]);
        float d2 = 0;
        for (int i = 0; i < 8; ++i) {
            const float q = xg[(pg[i] - 1) / 2];
            const float w = weight[i];
            const float diff = scale * q - xval[i];
            d2 += w * diff * diff;
        }
        if (d2 < best_score) {
            best_score = d2;
            grid_index = nb[j];
        }
    }
    // (llama.cpp then scans the whole grid, which cannot do better than infinity either.)
    if (grid_index < 0) no_grid_point(type);
    const int8_t* pg = g.point(grid_index);
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((pg[i] - 1) / 2);
    return grid_index;
}

constexpr int kMaxQ = 3;

// The level of x for the inverse scale id: round((id * x - 1) / 2), clamped to 0..2.
int8_t level_of(float id, float x) {
    const int l = nearest_int(0.5f * (id * x - 1));
    return static_cast<int8_t>(std::max(0, std::min(kMaxQ - 1, l)));
}

float sum_x2(const float* x) {
    float s = 0;
    for (int i = 0; i < QK_K; ++i) s += x[i] * x[i];
    return s;
}

// IQ2_XXS and IQ2_XS store 7 sign bits per 8 quants, the eighth making the count of
// negatives even: xval gets |x|, and with an odd count the quant of least weight * x² keeps
// the wrong sign (its xval negated). Returns the 7 bits.
uint8_t even_signs(const float* xb, const float* weight, float* xval) {
    int nflip = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; ++i) {
        if (xb[i] >= 0) {
            xval[i] = xb[i];
        } else {
            xval[i] = -xb[i];
            ++nflip;
            s = static_cast<uint8_t>(s | (1 << i));
        }
    }
    if (nflip % 2) {
        int imin = 0;
        float min = weight[imin] * xb[imin] * xb[imin];
        for (int i = 1; i < 8; ++i) {
            const float ax = weight[i] * xb[i] * xb[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s = static_cast<uint8_t>(s ^ (1 << imin));
    }
    return s & 127;
}

// The least-squares scale of xval for the levels L (n quants): sumqx / sumq2 and the sums.
struct Fit {
    float sumqx = 0, sumq2 = 0;
};
Fit fit_levels(int n, const float* xval, const float* weight, const int8_t* L) {
    Fit f;
    for (int i = 0; i < n; ++i) {
        const float w = weight[i];
        const float q = static_cast<float>(2 * L[i] + 1);
        f.sumqx += w * xval[i] * q;
        f.sumq2 += w * q * q;
    }
    return f;
}

// Levels of 8 quants for the inverse scale id, moved to the best neighbour when off the grid.
// Returns whether the pattern was on the grid.
bool round_to_grid(GgmlType type, const GridSearch& g, float id, float scale, const float* xval, const float* waux,
                   int8_t* L) {
    for (int i = 0; i < 8; ++i) L[i] = level_of(id, xval[i]);
    const uint16_t u = pattern_of(L);
    if (g.on_grid(u) >= 0) return true;
    best_neighbour(type, g, u, xval, waux, scale, L);
    return false;
}

int grid_index_of(GgmlType type, const GridSearch& g, const int8_t* L) {
    const int k = g.on_grid(pattern_of(L));
    if (k < 0) throw Error("internal error: a " + std::string(type_name(type)) + " group ended off its grid");
    return k;
}

void quantize_iq2_xxs(const float* x, const float* qw, BlockIQ2_XXS& block) {
    constexpr GgmlType type = GgmlType::IQ2_XXS;
    const GridSearch& g = grid_search(type);
    float scales[QK_K / 32], weight[32], xval[32], waux[32];
    int8_t L[32], Laux[32];
    uint8_t block_signs[4];
    uint32_t q2[2 * (QK_K / 32)] = {};
    block.d = fp32_to_fp16(0.0f);
    float max_scale = 0;
    const float sigma2 = sum_x2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float* xb = x + 32 * ib;
        const float* w = qw + 32 * ib;
        for (int i = 0; i < 32; ++i) weight[i] = w[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 4; ++k) block_signs[k] = even_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
        if (max < kGroupMaxEps) {
            scales[ib] = 0;
            continue;
        }
        uint8_t first[32];
        float scale = fit_positive_scale(32, kMaxQ + 1, xval, first, weight);
        const float eff_max = scale * kMaxQ;
        if (eff_max <= 0) {
            scales[ib] = 0;
            continue;
        }
        float best = 0;
        for (int is = -6; is <= 6; ++is) {
            const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / eff_max;
            const float this_scale = 1 / id;
            for (int k = 0; k < 4; ++k) round_to_grid(type, g, id, this_scale, xval + 8 * k, waux + 8 * k, Laux + 8 * k);
            const Fit f = fit_levels(32, xval, weight, Laux);
            if (f.sumq2 > 0 && f.sumqx * f.sumqx > best * f.sumq2) {
                scale = f.sumqx / f.sumq2;
                best = scale * f.sumqx;
                std::memcpy(L, Laux, 32);
            }
        }
        if (scale > 0) {
            const float id = 1 / scale;
            for (int k = 0; k < 4; ++k) {
                int8_t levels[8];
                for (int i = 0; i < 8; ++i) levels[i] = level_of(id, xval[8 * k + i]);
                const uint16_t u = pattern_of(levels);
                int grid_index = g.on_grid(u);
                if (grid_index < 0) grid_index = best_neighbour(type, g, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                const int8_t* pg = g.point(grid_index);
                for (int i = 0; i < 8; ++i) L[8 * k + i] = static_cast<int8_t>((pg[i] - 1) / 2);
            }
            const Fit f = fit_levels(32, xval, weight, L);
            if (f.sumq2 > 0) scale = f.sumqx / f.sumq2;
        }
        if (scale < 0) {  // cannot happen (llama.cpp: "just in case"); the scale is stored unsigned
            scale = -scale;
            for (int k = 0; k < 4; ++k) block_signs[k] = static_cast<uint8_t>(~block_signs[k] & 127);
        }
        for (int k = 0; k < 4; ++k) {
            q2[2 * ib + 0] |= static_cast<uint32_t>(grid_index_of(type, g, L + 8 * k)) << 8 * k;
            q2[2 * ib + 1] |= static_cast<uint32_t>(block_signs[k]) << 7 * k;
        }
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
        std::memset(block.qs, 0, sizeof(block.qs));
        return;
    }
    const float d = max_scale / 31;
    block.d = fp32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const int l = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
        q2[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
    }
    std::memcpy(block.qs, q2, sizeof(block.qs));
}

// IQ2_XS and IQ2_S: 16-quant groups, 19 trial scales around max / 5, then the groups left off
// the grid rounded again for the best scale.
struct Group16 {
    float scale = 0;
    int8_t L[16] = {};
};
Group16 fit_group16(GgmlType type, const GridSearch& g, const float* xval, const float* weight, const float* waux,
                    float max) {
    Group16 r;
    int8_t Laux[16];
    float best = 0;
    r.scale = max / (2 * kMaxQ - 1);
    bool on_grid[2] = {true, true}, on_grid_aux[2];
    for (int is = -9; is <= 9; ++is) {
        const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 2; ++k) {
            on_grid_aux[k] = round_to_grid(type, g, id, this_scale, xval + 8 * k, waux + 8 * k, Laux + 8 * k);
        }
        const Fit f = fit_levels(16, xval, weight, Laux);
        if (f.sumq2 > 0 && f.sumqx * f.sumqx > best * f.sumq2) {
            r.scale = f.sumqx / f.sumq2;
            best = r.scale * f.sumqx;
            std::memcpy(r.L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && r.scale > 0) {
        const float id = 1 / r.scale;
        for (int k = 0; k < 2; ++k) {
            if (!on_grid[k]) round_to_grid(type, g, id, r.scale, xval + 8 * k, waux + 8 * k, r.L + 8 * k);
        }
        const Fit f = fit_levels(16, xval, weight, r.L);
        if (f.sumq2 > 0) r.scale = f.sumqx / f.sumq2;
    }
    return r;
}

// The 4-bit scale of each 16 quants: round((scale / d - 1) / 2), d = max_scale / 31.
void pack_scales16(const float* scales, float d, uint8_t out[QK_K / 32]) {
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const int l = std::max(0, std::min(15, nearest_int(0.5f * (id * scales[ib] - 1))));
        if (ib % 2 == 0) out[ib / 2] = static_cast<uint8_t>(l);
        else out[ib / 2] = static_cast<uint8_t>(out[ib / 2] | (l << 4));
    }
}

void quantize_iq2_xs(const float* x, const float* qw, BlockIQ2_XS& block) {
    constexpr GgmlType type = GgmlType::IQ2_XS;
    const GridSearch& g = grid_search(type);
    float scales[QK_K / 16], weight[16], xval[16], waux[16];
    uint8_t block_signs[2];
    uint16_t q2[2 * (QK_K / 16)] = {};
    block.d = fp32_to_fp16(0.0f);
    std::memset(block.scales, 0, sizeof(block.scales));
    float max_scale = 0;
    const float sigma2 = sum_x2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = x + 16 * ib;
        const float* w = qw + 16 * ib;
        for (int i = 0; i < 16; ++i) weight[i] = w[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 2; ++k) block_signs[k] = even_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
        if (max < kGroupMaxEps) {
            scales[ib] = 0;
            continue;
        }
        Group16 r = fit_group16(type, g, xval, weight, waux, max);
        if (r.scale < 0) {
            r.scale = -r.scale;
            for (int k = 0; k < 2; ++k) block_signs[k] = static_cast<uint8_t>(~block_signs[k] & 127);
        }
        for (int k = 0; k < 2; ++k) {
            q2[2 * ib + k] = static_cast<uint16_t>(grid_index_of(type, g, r.L + 8 * k) | (block_signs[k] << 9));
        }
        scales[ib] = r.scale;
        max_scale = std::max(max_scale, r.scale);
    }
    if (!max_scale) {
        std::memset(block.qs, 0, sizeof(block.qs));
        return;
    }
    const float d = max_scale / 31;
    block.d = fp32_to_fp16(d);
    pack_scales16(scales, d, block.scales);
    std::memcpy(block.qs, q2, sizeof(block.qs));
}

// Without an importance matrix IQ2_S weighs each quant by sigma2 / 4 + x².
void quantize_iq2_s(const float* x, const float* qw, BlockIQ2_S& block) {
    constexpr GgmlType type = GgmlType::IQ2_S;
    constexpr float kEps = 1e-8f;
    const GridSearch& g = grid_search(type);
    float scales[QK_K / 16], weight[16], xval[16], waux[16];
    uint8_t block_signs[2];
    std::memset(&block, 0, sizeof(block));
    block.d = fp32_to_fp16(0.0f);
    float max_scale = 0;
    const float sigma2 = 2 * sum_x2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = x + 16 * ib;
        if (qw) {
            const float* w = qw + 16 * ib;
            for (int i = 0; i < 16; ++i) weight[i] = w[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        } else {
            for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 2; ++k) {
            uint8_t s = 0;
            for (int i = 0; i < 8; ++i) {
                const float v = xb[8 * k + i];
                xval[8 * k + i] = v >= 0 ? v : -v;
                if (!(v >= 0)) s = static_cast<uint8_t>(s | (1 << i));
            }
            block_signs[k] = s;
        }
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
        if (max < kEps) {
            scales[ib] = 0;
            continue;
        }
        Group16 r = fit_group16(type, g, xval, weight, waux, max);
        if (r.scale < 0) {
            r.scale = -r.scale;
            for (int k = 0; k < 2; ++k) block_signs[k] = static_cast<uint8_t>(~block_signs[k]);
        }
        for (int k = 0; k < 2; ++k) {
            const int grid_index = grid_index_of(type, g, r.L + 8 * k);
            const int i8 = 2 * ib + k;
            block.qs[i8] = static_cast<uint8_t>(grid_index & 255);
            block.qh[i8 / 4] = static_cast<uint8_t>(block.qh[i8 / 4] | ((grid_index >> 8) << 2 * (i8 % 4)));
            block.qs[QK_K / 8 + i8] = block_signs[k];
        }
        scales[ib] = r.scale;
        max_scale = std::max(max_scale, r.scale);
    }
    if (!max_scale) return;
    const float d = max_scale / 31;
    block.d = fp32_to_fp16(d * 0.9875f);
    pack_scales16(scales, d, block.scales);
}

// IQ1: quants -1, 0, 1 shifted by +-1/8. The values x_p (shift +) and x_m (shift -) of the
// three levels.
constexpr float kIq1Delta = 0.125f;
constexpr float kXp[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
constexpr float kXm[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};

// The order of a group's elements by value, as glibc's qsort (a stable merge sort) leaves
// llama.cpp's (value, index) pairs.
template <int N>
std::array<int, N> sorted_order(const float* xb) {
    std::array<int, N> idx;
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return xb[a] < xb[b]; });
    return idx;
}

// IQ1: the levels of a group from the best split (L: 0 below i1, 1 to i2, 2 above, in sorted
// order), mapped onto the grid; index gets the grid points. Returns whether all were on it.
template <int N>
bool iq1_to_grid(GgmlType type, const GridSearch& g, const float* xb, const float* weight, float scale,
                 const float* const* xx, int8_t* L, uint16_t* index) {
    bool all_on_grid = true;
    for (int k = 0; k < N / 8; ++k) {
        const uint16_t u = pattern_of(L + 8 * k);
        int grid_index = g.on_grid(u);
        if (grid_index < 0) {
            all_on_grid = false;
            grid_index = best_neighbour_iq1(type, g, u, xb + 8 * k, weight + 8 * k, scale, xx[k], L + 8 * k);
        }
        index[k] = static_cast<uint16_t>(grid_index);
    }
    return all_on_grid;
}

// The least-squares scale of a group for its grid points (when some moved off their split).
template <int N>
void refit_iq1(const GridSearch& g, const float* xb, const float* weight, const float* const* xx,
               const uint16_t* index, float& scale) {
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < N / 8; ++k) {
        const int8_t* pg = g.point(index[k]);
        for (int j = 0; j < 8; ++j) {
            const float w = weight[8 * k + j];
            const float q = xx[k][(pg[j] - 1) / 2];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
        }
    }
    if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
}

template <int N>
void assign_split(const std::array<int, N>& idx, int i1, int i2, int8_t* L) {
    for (int j = 0; j < i1; ++j) L[idx[j]] = 0;
    for (int j = i1; j < i2; ++j) L[idx[j]] = 1;
    for (int j = i2; j < N; ++j) L[idx[j]] = 2;
}

void quantize_iq1_s(const float* x, const float* qw, BlockIQ1_S& block) {
    constexpr GgmlType type = GgmlType::IQ1_S;
    constexpr int kBlock = 32;
    constexpr float kEps = 1e-12f;
    const GridSearch& g = grid_search(type);
    float scales[QK_K / kBlock], weight[kBlock], sumx[kBlock + 1], sumw[kBlock + 1];
    int8_t L[kBlock], shifts[QK_K / kBlock];
    uint16_t index[kBlock / 8];
    block.d = fp32_to_fp16(0.0f);
    std::memset(block.qs, 0, sizeof(block.qs));
    std::memset(block.qh, 0, sizeof(block.qh));
    float max_scale = 0;
    const float sigma2 = 2 * sum_x2(x) / QK_K;
    for (int ib = 0; ib < QK_K / kBlock; ++ib) {
        const float* xb = x + kBlock * ib;
        const float* w = qw + kBlock * ib;
        for (int i = 0; i < kBlock; ++i) weight[i] = w[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
        if (max < kEps) {
            scales[ib] = 0;
            shifts[ib] = 1;
            continue;
        }
        // The exact weighted least-squares search over the two boundaries that split the
        // sorted values into the three levels, with either shift.
        const std::array<int, kBlock> idx = sorted_order<kBlock>(xb);
        sumx[0] = sumw[0] = 0;
        for (int j = 0; j < kBlock; ++j) {
            const int i = idx[static_cast<size_t>(j)];
            sumx[j + 1] = sumx[j] + weight[i] * xb[i];
            sumw[j + 1] = sumw[j] + weight[i];
        }
        float best_score = -FLT_MAX, scale = max;
        int besti1 = -1, besti2 = -1, best_shift = 0;
        for (int i1 = 0; i1 <= kBlock; ++i1) {
            for (int i2 = i1; i2 <= kBlock; ++i2) {
                float sumqx = (sumx[i1] - sumx[0]) * kXp[0] + (sumx[i2] - sumx[i1]) * kXp[1] + (sumx[kBlock] - sumx[i2]) * kXp[2];
                float sumq2 = (sumw[i1] - sumw[0]) * kXp[0] * kXp[0] + (sumw[i2] - sumw[i1]) * kXp[1] * kXp[1] +
                              (sumw[kBlock] - sumw[i2]) * kXp[2] * kXp[2];
                if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                    scale = sumqx / sumq2;
                    best_score = scale * sumqx;
                    besti1 = i1;
                    besti2 = i2;
                    best_shift = 1;
                }
                sumqx = (sumx[i1] - sumx[0]) * kXm[0] + (sumx[i2] - sumx[i1]) * kXm[1] + (sumx[kBlock] - sumx[i2]) * kXm[2];
                sumq2 = (sumw[i1] - sumw[0]) * kXm[0] * kXm[0] + (sumw[i2] - sumw[i1]) * kXm[1] * kXm[1] +
                        (sumw[kBlock] - sumw[i2]) * kXm[2] * kXm[2];
                if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                    scale = sumqx / sumq2;
                    best_score = scale * sumqx;
                    besti1 = i1;
                    besti2 = i2;
                    best_shift = -1;
                }
            }
        }
        if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
            scales[ib] = 0;
            shifts[ib] = 1;
            continue;
        }
        assign_split<kBlock>(idx, besti1, besti2, L);
        if (scale < 0) {
            for (int j = 0; j < kBlock; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
            scale = -scale;
            best_shift = -best_shift;
        }
        const float* xx = best_shift == 1 ? kXp : kXm;
        const float* const per_group[kBlock / 8] = {xx, xx, xx, xx};
        if (!iq1_to_grid<kBlock>(type, g, xb, weight, scale, per_group, L, index)) {
            refit_iq1<kBlock>(g, xb, weight, per_group, index, scale);
        }
        uint16_t h = 0;
        for (int k = 0; k < kBlock / 8; ++k) {
            block.qs[(kBlock / 8) * ib + k] = static_cast<uint8_t>(index[k] & 255);
            h = static_cast<uint16_t>(h | ((index[k] >> 8) << 3 * k));
        }
        block.qh[ib] = h;
        scales[ib] = scale;
        shifts[ib] = static_cast<int8_t>(best_shift);
        max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) return;
    const float d = max_scale / 15;
    block.d = fp32_to_fp16(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / kBlock; ++ib) {
        int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
        if (shifts[ib] == -1) l |= 8;
        block.qh[ib] = static_cast<uint16_t>(block.qh[ib] | (l << 12));
    }
}

// Without an importance matrix IQ1_M weighs each quant by x².
void iq1_m_weights(const float* xb, const float* qw, float sigma2, float* weight) {
    if (qw) {
        for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    } else {
        for (int i = 0; i < 16; ++i) weight[i] = xb[i] * xb[i];
    }
}

// IQ1_M's shift per 8 quants: k's bit 1 the first half's sign, bit 0 the second's (0: +).
void iq1_m_shift_values(int k, const float* xx[2]) {
    xx[0] = k < 2 ? kXp : kXm;
    xx[1] = k % 2 == 0 ? kXp : kXm;
}

void quantize_iq1_m(const float* x, const float* qw, BlockIQ1_M& block) {
    constexpr GgmlType type = GgmlType::IQ1_M;
    constexpr int kBlock = 16;
    constexpr float kEps = 1e-7f;
    constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
    const GridSearch& g = grid_search(type);
    float scales[QK_K / kBlock], weight[kBlock];
    int8_t L[kBlock], shifts[QK_K / kBlock];
    uint16_t index[kBlock / 8];
    std::memset(&block, 0, sizeof(block));
    float max_scale = 0;
    const float sigma2 = 2 * sum_x2(x) / QK_K;
    for (int ib = 0; ib < QK_K / kBlock; ++ib) {
        const float* xb = x + kBlock * ib;
        iq1_m_weights(xb, qw ? qw + kBlock * ib : nullptr, sigma2, weight);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
        if (max < kEps) {
            scales[ib] = 0;
            shifts[ib] = 0;
            continue;
        }
        const std::array<int, kBlock> idx = sorted_order<kBlock>(xb);
        float best_score = -FLT_MAX, scale = max;
        int besti1 = -1, besti2 = -1, best_k = -1;
        // Prefix sums per half of the group (each half has its own shift); with
        // v[0] - v[1] = v[1] - v[2] = -1 a split's sum is T * v[2] - px[i1] - px[i2].
        {
            float px[2][kBlock + 1], pw[2][kBlock + 1];
            px[0][0] = px[1][0] = 0;
            pw[0][0] = pw[1][0] = 0;
            for (int j = 0; j < kBlock; ++j) {
                const int i = idx[static_cast<size_t>(j)];
                const int h = i < kBlock / 2 ? 0 : 1;
                px[h][j + 1] = px[h][j] + weight[i] * xb[i];
                px[1 - h][j + 1] = px[1 - h][j];
                pw[h][j + 1] = pw[h][j] + weight[i];
                pw[1 - h][j + 1] = pw[1 - h][j];
            }
            const float txs[2] = {px[0][kBlock], px[1][kBlock]};
            const float tws[2] = {pw[0][kBlock], pw[1][kBlock]};
            const float p2 = kXp[2], m2 = kXm[2];
            const float cp1 = kXp[0] * kXp[0] - kXp[1] * kXp[1];
            const float cp2 = kXp[1] * kXp[1] - kXp[2] * kXp[2];
            const float cm1 = kXm[0] * kXm[0] - kXm[1] * kXm[1];
            const float cm2 = kXm[1] * kXm[1] - kXm[2] * kXm[2];
            for (int i1 = 0; i1 <= kBlock; ++i1) {
                for (int i2 = i1; i2 <= kBlock; ++i2) {
                    float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
                    for (int h = 0; h < 2; ++h) {
                        const float sx = px[h][i1] + px[h][i2];
                        qx_p[h] = txs[h] * p2 - sx;
                        qx_m[h] = txs[h] * m2 - sx;
                        q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
                        q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
                    }
                    const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1], qx_m[0] + qx_m[1]};
                    const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1], q2_m[0] + q2_m[1]};
                    for (int k = 0; k < 4; ++k) {
                        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                            scale = sumqx[k] / sumq2[k];
                            best_score = scale * sumqx[k];
                            besti1 = i1;
                            besti2 = i2;
                            best_k = k;
                        }
                    }
                }
            }
        }
        if (besti1 < 0 || besti2 < 0 || best_k < 0) {
            scales[ib] = 0;
            shifts[ib] = 0;
            continue;
        }
        assign_split<kBlock>(idx, besti1, besti2, L);
        if (scale < 0) {
            for (int j = 0; j < kBlock; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
            scale = -scale;
            best_k = 3 - best_k;  // both halves' shifts flip
        }
        const float* xx[2];
        iq1_m_shift_values(best_k, xx);
        if (!iq1_to_grid<kBlock>(type, g, xb, weight, scale, xx, L, index)) {
            refit_iq1<kBlock>(g, xb, weight, xx, index, scale);
        }
        block.qs[2 * ib + 0] = static_cast<uint8_t>(index[0] & 255);
        block.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
        block.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
        scales[ib] = scale;
        shifts[ib] = static_cast<int8_t>(best_k);
        max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) return;
    // The 3-bit scales, then the super-block scale refitted to them, spread over the top
    // nibbles of the four uint16 of scales.
    uint16_t sc[4] = {};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < QK_K / kBlock; ++ib) {
        const int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
        sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << 3 * (ib % 4)));
        block.qh[ib] = static_cast<uint8_t>(block.qh[ib] | kMasks[shifts[ib]]);
        const float* xb = x + kBlock * ib;
        iq1_m_weights(xb, qw ? qw + kBlock * ib : nullptr, sigma2, weight);
        const float* xx[2];
        iq1_m_shift_values(shifts[ib], xx);
        for (int k = 0; k < 2; ++k) {
            const int8_t* pg = g.point(block.qs[2 * ib + k] + ((block.qh[ib] << (8 - 4 * k)) & 0x700));
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = xx[k][(pg[j] - 1) / 2] * static_cast<float>(2 * l + 1);
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t s = fp32_to_fp16(d * 1.1125f);
    sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000f) << 12));
    sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00f0) << 8));
    sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0f00) << 4));
    sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xf000));
    std::memcpy(block.scales, sc, sizeof(sc));
}

}  // namespace

void quantize(const float* x, BlockIQ2_S& block) { quantize_iq2_s(x, nullptr, block); }
void quantize(const float* x, BlockIQ1_M& block) { quantize_iq1_m(x, nullptr, block); }
void quantize(const float* x, const float* qw, BlockIQ2_XXS& block) { quantize_iq2_xxs(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ2_XS& block) { quantize_iq2_xs(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ2_S& block) { quantize_iq2_s(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ1_S& block) { quantize_iq1_s(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ1_M& block) { quantize_iq1_m(x, qw, block); }

}  // namespace natter::detail
