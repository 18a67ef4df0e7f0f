// The IQ3_XXS and IQ3_S quantizers, step for step llama.cpp's quantize_row_iq3_xxs_impl and
// quantize_row_iq3_s_impl (the same float operations in the same order, weights x² or from
// an importance matrix), so that the bytes written are its bytes.
//
// Each 4 quants are one point of a grid (256 points for IQ3_XXS, 512 for IQ3_S) of the odd
// magnitudes 1, 3, ..., 15. A group of 32 tries a sweep of scales; the 4-quant points that
// rounding puts off the grid take the best of their grid neighbours.
#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "quant/iq_tables.h"
#include "quant/kquant_search.h"
#include "quant/quant.h"
#include "quant/quantize_blocks.h"

namespace natter::detail {
namespace {

constexpr int kMaxQ = 8;          // a quant's level 0..7 stands for the magnitude 2 * level + 1
constexpr int kPoints = 1 << 12;  // every 4 levels of 3 bits

// What llama.cpp's iq3xs_init_impl builds for a grid: its points as 4 magnitudes, the grid
// index of each of the 4096 4-level points (-1 off the grid), and for each point off the
// grid its neighbours: the grid points at its `n_distances` smallest squared distances,
// sorted by distance, then by index (as its qsort orders them).
struct Iq3Grid {
    std::vector<std::array<int8_t, 4>> points;
    std::array<int, kPoints> index{};
    std::vector<uint16_t> neighbours;
    std::array<std::pair<uint32_t, uint32_t>, kPoints> neighbour_range{};  // [first, last) in neighbours
};

// The point of 4 levels: level i in bits 3i..3i+2.
int point_of(const int8_t* levels) {
    int u = 0;
    for (int i = 0; i < 4; ++i) u |= levels[i] << (3 * i);
    return u;
}

// grid: the dequantization table (iq_tables.h); level(b): the level its magnitude byte b
// stands for.
Iq3Grid make_grid(const uint32_t* grid, int size, int (*level)(uint8_t), int n_distances) {
    Iq3Grid g;
    g.index.fill(-1);
    g.points.resize(static_cast<size_t>(size));
    for (int k = 0; k < size; ++k) {
        int8_t levels[4];
        for (int i = 0; i < 4; ++i) {
            levels[i] = static_cast<int8_t>(level(static_cast<uint8_t>(grid[k] >> (8 * i))));
            g.points[static_cast<size_t>(k)][static_cast<size_t>(i)] = static_cast<int8_t>(2 * levels[i] + 1);
        }
        g.index[static_cast<size_t>(point_of(levels))] = k;
    }
    std::vector<std::pair<int, int>> by_distance(static_cast<size_t>(size));  // (squared distance, index)
    for (int u = 0; u < kPoints; ++u) {
        if (g.index[static_cast<size_t>(u)] >= 0) continue;
        for (int j = 0; j < size; ++j) {
            int d2 = 0;
            for (int i = 0; i < 4; ++i) {
                const int diff = g.points[static_cast<size_t>(j)][static_cast<size_t>(i)] - (2 * ((u >> (3 * i)) & 7) + 1);
                d2 += diff * diff;
            }
            by_distance[static_cast<size_t>(j)] = {d2, j};
        }
        std::sort(by_distance.begin(), by_distance.end());
        const auto first = static_cast<uint32_t>(g.neighbours.size());
        int distance = by_distance[0].first, n_have = 1;
        for (const auto& [d2, j] : by_distance) {
            if (d2 > distance) {
                if (n_have == n_distances) break;
                distance = d2;
                ++n_have;
            }
            g.neighbours.push_back(static_cast<uint16_t>(j));
        }
        g.neighbour_range[static_cast<size_t>(u)] = {first, static_cast<uint32_t>(g.neighbours.size())};
    }
    return g;
}

// Built on first use, once (a function-local static is initialized thread-safely).
const Iq3Grid& iq3xxs_grid() {
    // magnitudes 4, 12, 20, ..., 52 and 62 for levels 0..7
    static const Iq3Grid grid = make_grid(kIq3xxsGrid, 256, [](uint8_t b) { return b / 8; }, 2);
    return grid;
}
const Iq3Grid& iq3s_grid() {
    // magnitudes 1, 3, ..., 15 for levels 0..7
    static const Iq3Grid grid = make_grid(kIq3sGrid, 512, [](uint8_t b) { return b / 2; }, 3);
    return grid;
}

// The grid index of the neighbour of point u nearest x (weighted, at this scale), its levels
// into L (iq3_find_best_neighbour).
int best_neighbour(const Iq3Grid& g, int u, const float* xval, const float* weight, float scale, int8_t* L) {
    const auto [first, last] = g.neighbour_range[static_cast<size_t>(u)];
    float best_d2 = FLT_MAX;
    int best = -1;
    for (uint32_t n = first; n < last; ++n) {
        const std::array<int8_t, 4>& p = g.points[g.neighbours[n]];
        float d2 = 0;
        for (int i = 0; i < 4; ++i) {
            const float diff = scale * static_cast<float>(p[static_cast<size_t>(i)]) - xval[i];
            d2 += weight[i] * diff * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            best = g.neighbours[n];
        }
    }
    for (int i = 0; i < 4; ++i) L[i] = static_cast<int8_t>((g.points[static_cast<size_t>(best)][static_cast<size_t>(i)] - 1) / 2);
    return best;
}

// The levels of 4 magnitudes at the inverse scale id: on the grid as they round, or the
// best neighbour's. Returns whether they rounded onto the grid.
bool round_to_grid(const Iq3Grid& g, float id, float scale, const float* xval, const float* waux, int8_t* L) {
    for (int i = 0; i < 4; ++i) {
        const int l = nearest_int(0.5f * (id * xval[i] - 1));
        L[i] = static_cast<int8_t>(std::max(0, std::min(kMaxQ - 1, l)));
    }
    const int u = point_of(L);
    if (g.index[static_cast<size_t>(u)] >= 0) return true;
    best_neighbour(g, u, xval, waux, scale, L);
    return false;
}

// sum w x q and sum w q² of the magnitudes q = 2 L + 1.
std::pair<float, float> weighted_sums(const float* xval, const float* weight, const int8_t* L) {
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < 32; ++i) {
        const float w = weight[i];
        const float q = static_cast<float>(2 * L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
    }
    return {sumqx, sumq2};
}

// Where the two formats' searches differ.
struct Search {
    const Iq3Grid& grid;
    int steps;         // the scales tried: id = (15 + 0.2 s) / max, s = -steps..steps
    // IQ3_S rounds every group again at the chosen scale (IQ3_XXS only those off the grid),
    // and counts its groups as off the grid until a scale of the sweep is taken.
    bool refine_all;
};

// The scale of a group of 32 magnitudes xval (largest max > 0) and its levels L, every 4 of
// them a grid point.
float fit_group(const Search& s, const float* xval, float max, const float* weight, const float* waux, int8_t* L) {
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    bool on_grid[8], on_grid_try[8];
    std::fill(on_grid, on_grid + 8, !s.refine_all);
    int8_t Ltry[32];
    for (int is = -s.steps; is <= s.steps; ++is) {
        const float id = (static_cast<float>(2 * kMaxQ - 1) + static_cast<float>(is) * 0.2f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 8; ++k) {
            on_grid_try[k] = round_to_grid(s.grid, id, this_scale, xval + 4 * k, waux + 4 * k, Ltry + 4 * k);
        }
        const auto [sumqx, sumq2] = weighted_sums(xval, weight, Ltry);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::copy(Ltry, Ltry + 32, L);
            std::copy(on_grid_try, on_grid_try + 8, on_grid);
        }
    }
    if (std::all_of(on_grid, on_grid + 8, [](bool b) { return b; }) || !(scale > 0)) return scale;
    const float id = 1 / scale;
    for (int k = 0; k < 8; ++k) {
        if (on_grid[k] && !s.refine_all) continue;
        round_to_grid(s.grid, id, scale, xval + 4 * k, waux + 4 * k, L + 4 * k);
    }
    const auto [sumqx, sumq2] = weighted_sums(xval, weight, L);
    if (sumq2 > 0) scale = sumqx / sumq2;
    return scale;
}

int grid_index(const Iq3Grid& g, const int8_t* L) { return g.index[static_cast<size_t>(point_of(L))]; }

// A group of 32 as both quantizers start it: the element weights (x², or with an importance
// matrix qw * sqrt(sigma2 + x²)), their square roots (what the neighbour search weighs by), the
// magnitudes, and the signs (bit i of signs[k]: element 8 k + i is negative).
struct Group {
    float weight[32], waux[32], xval[32];
    uint8_t signs[4] = {};
};

void load_group(const float* xb, const float* qw, float sigma2, Group& g) {
    for (int i = 0; i < 32; ++i) g.weight[i] = qw ? qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
    for (int i = 0; i < 32; ++i) g.waux[i] = std::sqrt(g.weight[i]);
    for (int i = 0; i < 32; ++i) {
        g.xval[i] = xb[i] >= 0 ? xb[i] : -xb[i];
        if (xb[i] < 0) g.signs[i / 8] = static_cast<uint8_t>(g.signs[i / 8] | (1u << (i % 8)));
    }
}

float super_block_sigma2(const float* x) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += x[i] * x[i];
    return 2 * sumx2 / QK_K;
}

// The 4-bit scale of a group: nearest (id * scale - 1) / 2.
uint32_t group_scale_code(float id, float scale) {
    return static_cast<uint32_t>(std::max(0, std::min(15, nearest_int(0.5f * (id * scale - 1)))));
}

// IQ3_XXS: per 8 quants 7 sign bits, the eighth making the count of negatives even (when it is
// odd, the quant whose sign flips is the one of least weight * x²).
void quantize_xxs(const float* x, const float* qw, BlockIQ3_XXS& block) {
    const Search search{iq3xxs_grid(), 15, false};
    constexpr float kAllZero = 1e-8f;  // a group whose largest magnitude is below is all zero
    uint8_t indices[QK_K / 4] = {};
    uint32_t scales_and_signs[QK_K / 32] = {};
    float scales[QK_K / 32];
    float max_scale = 0;
    const float sigma2 = super_block_sigma2(x);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float* xb = x + 32 * ib;
        Group g;
        load_group(xb, qw ? qw + 32 * ib : nullptr, sigma2, g);
        for (int k = 0; k < 4; ++k) {
            if (std::popcount(g.signs[k]) % 2) {
                int imin = 0;
                float min = g.weight[8 * k] * xb[8 * k] * xb[8 * k];
                for (int i = 1; i < 8; ++i) {
                    const float ax = g.weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
                    if (ax < min) {
                        min = ax;
                        imin = i;
                    }
                }
                g.xval[8 * k + imin] = -g.xval[8 * k + imin];
                g.signs[k] = static_cast<uint8_t>(g.signs[k] ^ (1u << imin));
            }
            g.signs[k] = static_cast<uint8_t>(g.signs[k] & 127);
        }
        const float max = *std::max_element(g.xval, g.xval + 32);
        if (max < kAllZero) {
            scales[ib] = 0;
            continue;
        }
        int8_t L[32] = {};
        float scale = fit_group(search, g.xval, max, g.weight, g.waux, L);
        if (scale < 0) {  // cannot happen with non-negative weights; llama.cpp flips the signs
            scale = -scale;
            for (uint8_t& s : g.signs) s = static_cast<uint8_t>(~s & 127);
        }
        for (int k = 0; k < 8; ++k) indices[8 * ib + k] = static_cast<uint8_t>(grid_index(search.grid, L + 4 * k));
        scales_and_signs[ib] = g.signs[0] | (g.signs[1] << 7) | (g.signs[2] << 14) | (static_cast<uint32_t>(g.signs[3]) << 21);
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    block.d = fp32_to_fp16(0.0f);
    std::memset(block.qs, 0, sizeof(block.qs));
    if (!max_scale) return;
    const float d = max_scale / 31;
    block.d = fp32_to_fp16(d * 1.0125f);  // llama.cpp's fudge factor
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) scales_and_signs[ib] |= group_scale_code(id, scales[ib]) << 28;
    std::memcpy(block.qs, indices, sizeof(indices));
    std::memcpy(block.qs + sizeof(indices), scales_and_signs, sizeof(scales_and_signs));
}

// IQ3_S: a sign bit per quant, a 9-bit grid index per 4 quants.
void quantize_s(const float* x, const float* qw, BlockIQ3_S& block) {
    const Search search{iq3s_grid(), 9, true};
    std::memset(&block, 0, sizeof(block));
    uint8_t* qs = block.qs;
    uint8_t* signs = block.signs;
    float scales[QK_K / 32];
    float max_scale = 0;
    const float sigma2 = super_block_sigma2(x);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        Group g;
        load_group(x + 32 * ib, qw ? qw + 32 * ib : nullptr, sigma2, g);
        const float max = *std::max_element(g.xval, g.xval + 32);
        if (!max) {
            // llama.cpp does not move on to the next group's quants and signs here, so the
            // groups after an all-zero one are stored one place early; so are ours, to be read
            // as llama.cpp reads them.
            scales[ib] = 0;
            continue;
        }
        int8_t L[32] = {};
        float scale = fit_group(search, g.xval, max, g.weight, g.waux, L);
        if (scale < 0) {  // cannot happen with non-negative weights; llama.cpp flips the signs
            scale = -scale;
            for (uint8_t& s : g.signs) s = static_cast<uint8_t>(~s);
        }
        for (int k = 0; k < 8; ++k) {
            const int index = grid_index(search.grid, L + 4 * k);
            qs[k] = static_cast<uint8_t>(index & 255);
            block.qh[ib] = static_cast<uint8_t>(block.qh[ib] | ((index >> 8) << k));
        }
        qs += 8;
        std::memcpy(signs, g.signs, sizeof(g.signs));
        signs += sizeof(g.signs);
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) return;
    const float d = max_scale / 31;
    block.d = fp32_to_fp16(d * 1.033f);  // llama.cpp's fudge factor
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
        block.scales[ib / 2] = static_cast<uint8_t>(group_scale_code(id, scales[ib]) | (group_scale_code(id, scales[ib + 1]) << 4));
    }
}

}  // namespace

void quantize(const float* x, BlockIQ3_XXS& block) { quantize_xxs(x, nullptr, block); }
void quantize(const float* x, BlockIQ3_S& block) { quantize_s(x, nullptr, block); }
void quantize(const float* x, const float* qw, BlockIQ3_XXS& block) { quantize_xxs(x, qw, block); }
void quantize(const float* x, const float* qw, BlockIQ3_S& block) { quantize_s(x, qw, block); }

}  // namespace natter::detail
