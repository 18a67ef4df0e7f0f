// Scale searches of the k-quant reference quantizers. Expressions are written with the
// same association as llama.cpp's (e.g. w * x * l is (w * x) * l), and the library is
// built with -ffp-contract=off, so every intermediate rounds exactly as it does there.
#include "quant/kquant_search.h"

#include <algorithm>
#include <cmath>

namespace natter::detail {
namespace {

struct SignedMax {
    float value = 0.0f;  // the element with the largest magnitude (first one on ties)
    float magnitude = 0.0f;
};

SignedMax signed_max(int n, const float* x) {
    SignedMax result;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > result.magnitude) result = {x[i], ax};
    }
    return result;
}

int clamp_symmetric(int l, int nmax) { return std::max(-nmax, std::min(nmax - 1, l)); }

// Weighted sums for a symmetric fit with weights x²: sum w*x*l and sum w*l*l.
struct Sums {
    float lx = 0.0f;
    float l2 = 0.0f;
};

Sums symmetric_sums(int n, int nmax, const float* x, float iscale, const float* weights) {
    Sums sums;
    for (int i = 0; i < n; ++i) {
        const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
        const float w = weights ? weights[i] : x[i] * x[i];
        sums.lx += w * x[i] * static_cast<float>(l);
        sums.l2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    return sums;
}

void store_symmetric(int n, int nmax, const float* x, float iscale, int8_t* L) {
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + clamp_symmetric(nearest_int(iscale * x[i]), nmax));
    }
}

}  // namespace

constexpr float kIntLimit = 4194303.0f;  // 2^22 - 1

int nearest_int(float x) {
    if (!(std::fabs(x) <= kIntLimit)) return x > 0 ? 4194303 : -4194303;
    // Adding 1.5 * 2^23 pushes the fraction out of the mantissa; the addition itself rounds
    // to nearest even, so subtracting it again leaves the rounded value.
    constexpr float kMagic = 12582912.0f;
    return static_cast<int>((x + kMagic) - kMagic);
}

int truncate_to_int(float x) {
    if (!(std::fabs(x) <= kIntLimit)) return x > 0 ? 4194303 : -4194303;
    return static_cast<int>(x);
}

float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* L, const float* weights) {
    const SignedMax max = signed_max(n, x);
    if (max.magnitude < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    // The largest element maps to -nmax, which uses the one extra negative level.
    float iscale = static_cast<float>(-nmax) / max.value;
    store_symmetric(n, nmax, x, iscale, L);
    Sums sums = symmetric_sums(n, nmax, x, iscale, weights);
    float scale = sums.l2 != 0.0f ? sums.lx / sums.l2 : 0.0f;
    float best = scale * sums.lx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max.value;
        sums = symmetric_sums(n, nmax, x, iscale, weights);
        // Compare sums.lx² / sums.l2 (the error reduction) without dividing.
        if (sums.l2 > 0 && sums.lx * sums.lx > best * sums.l2) {
            store_symmetric(n, nmax, x, iscale, L);
            scale = sums.lx / sums.l2;
            best = scale * sums.lx;
        }
    }
    return scale;
}

float fit_symmetric_refined(int n, int nmax, const float* x, int8_t* L) {
    const SignedMax max = signed_max(n, x);
    if (max.magnitude < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max.value;
    float sumlx = 0.0f;
    float suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float li = L[i];
            // Sums without element i; its best quant given the others is then x * sl2 / slx.
            float slx = sumlx - w * x[i] * li;
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * li * li;
            const int new_l = clamp_symmetric(nearest_int(x[i] * sl2 / slx), nmax);
            if (new_l == L[i]) continue;
            const float lf = static_cast<float>(new_l);
            slx += w * x[i] * lf;
            sl2 += w * lf * lf;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float fit_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
    float max = 0.0f;
    for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
    if (max < kGroupMaxEps) {
        std::fill(L, L + n, uint8_t{0});
        return 0.0f;
    }
    // The sweep's error, with the quants capped at nmax only for the candidates (as there).
    // The first error is that of the quants as stored in L, bytes: IQ2_XXS fits values of
    // which one may be negative, whose quant wraps around (-1 is 255), as in llama.cpp.
    float iscale = static_cast<float>(nmax) / max;
    const float scale = 1 / iscale;
    float best_mse = 0.0f;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
        const float diff = x[i] - scale * static_cast<float>(L[i]);
        best_mse += weights[i] * diff * diff;
    }
    for (int step = -4; step <= 4; ++step) {
        if (step == 0) continue;
        const float iscale_step = (0.1f * static_cast<float>(step) + static_cast<float>(nmax)) / max;
        const float scale_step = 1 / iscale_step;
        float mse = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = std::min(nmax, nearest_int(iscale_step * x[i]));
            const float diff = x[i] - scale_step * static_cast<float>(l);
            mse += weights[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_step;
        }
    }
    float sumlx = 0.0f;
    float suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearest_int(iscale * x[i]));
        L[i] = static_cast<uint8_t>(l);
        sumlx += weights[i] * x[i] * static_cast<float>(l);
        suml2 += weights[i] * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = weights[i];
            const float li = L[i];
            float slx = sumlx - w * x[i] * li;
            float sl2 = suml2 - w * li * li;
            if (!(slx > 0 && sl2 > 0)) continue;
            const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
            if (new_l == L[i]) continue;
            const float lf = static_cast<float>(new_l);
            slx += w * x[i] * lf;
            sl2 += w * lf * lf;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<uint8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

namespace {

// Weighted error of x ≈ scale * L + min (min <= 0 here).
float affine_error(int n, const float* x, const float* weights, const uint8_t* L, float scale,
                   float min, bool use_mad) {
    float error = 0.0f;
    for (int i = 0; i < n; ++i) {
        float diff = scale * static_cast<float>(L[i]) + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        error += weights[i] * diff;
    }
    return error;
}

void quantize_affine(int n, int nmax, const float* x, float iscale, float min, uint8_t* L) {
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
    }
}

}  // namespace

float fit_scale_and_min(int n, const AffineSearch& search, const float* x,
                        const float* weights, uint8_t* L, float& min_out) {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        min = std::min(min, x[i]);
        max = std::max(max, x[i]);
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    // The offset only ever shifts values up, so a group of positive values keeps min 0.
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t{0});
        min_out = -min;
        return 0.0f;
    }
    const int nmax = search.nmax;
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    quantize_affine(n, nmax, x, iscale, min, L);
    float best_error = affine_error(n, x, weights, L, scale, min, search.use_mad);
    uint8_t candidate[32];
    for (int step = 0; step <= search.steps; ++step) {
        iscale = (search.rmin + search.rdelta * static_cast<float>(step) + static_cast<float>(nmax)) /
                 (max - min);
        quantize_affine(n, nmax, x, iscale, min, candidate);
        float sum_l = 0.0f;
        float sum_l2 = 0.0f;
        float sum_xl = 0.0f;
        for (int i = 0; i < n; ++i) {
            const float l = candidate[i];
            sum_l += weights[i] * l;
            sum_l2 += weights[i] * l * l;
            sum_xl += weights[i] * l * x[i];
        }
        // Weighted least squares for x ≈ scale * l + min over the candidate quants.
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float error = affine_error(n, x, weights, candidate, this_scale, this_min, search.use_mad);
        if (error < best_error) {
            std::copy(candidate, candidate + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    min_out = -min;
    return scale;
}

}  // namespace natter::detail
