#pragma once
// Internal to quant/: the searches that pick a group's scale (and min) in the k-quant
// reference quantizers. They reproduce llama.cpp's non-imatrix reference search step for
// step, including the order of every float operation, because the files our quantizer
// writes must be byte-identical to the ones llama.cpp's quantize writes.
#include <cstdint>

namespace natter::detail {

// Groups whose largest magnitude is below this are treated as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even. Meant for |x| < 2^22, which finite weights of any
// sensible size guarantee; anything beyond (or NaN, e.g. 0 * inf when a block is all
// float subnormals) saturates to +-(2^22 - 1) instead of being undefined behaviour.
int nearest_int(float x);
// Truncate toward zero, saturating like nearest_int.
int truncate_to_int(float x);

// Symmetric quants L[i] in 0..2*nmax-1 (stored with +nmax) for x ≈ scale * (L - nmax).
// Tries 19 scales around nmax / max|x| and keeps the one minimising the weighted squared
// error, weights x² or the given ones (an importance matrix's). Returns the scale (0 for an
// all-zero group). Used by Q6_K, and with weights by Q3_K, Q4_0 and Q5_0 (make_qx_quants).
float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* L, const float* weights = nullptr);

// Non-negative quants L[i] in 0..nmax for positive x ≈ scale * L (a super-block's group
// scales or mins): 9 scales around nmax / max x by weighted squared error, then up to 5
// passes improving one quant at a time (make_qp_quants). Returns the scale. (IQ2_XXS passes
// magnitudes one of which may be negated; its quant is then stored wrapped, as a byte, and
// used so, as in llama.cpp.)
float fit_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights);

// As fit_symmetric_scale, but instead of a scale sweep it improves the quants one at a
// time (up to 5 passes) while the weighted error drops. Used by Q3_K.
float fit_symmetric_refined(int n, int nmax, const float* x, int8_t* L);

// Parameters of the scale-and-min search.
struct AffineSearch {
    int nmax;       // quants are 0..nmax
    float rmin;     // the candidate scales are (nmax + rmin + rdelta * step) / (max - min)
    float rdelta;
    int steps;      // for step = 0..steps
    bool use_mad;   // minimise weighted absolute error instead of squared error
};

// Asymmetric quants L[i] in 0..nmax for x ≈ scale * L - min_out, min_out >= 0, chosen to
// minimise the weighted error over a sweep of candidate scales, each refined by a weighted
// least-squares fit of scale and min. Returns the scale. Used by Q2_K, Q4_K, Q5_K.
float fit_scale_and_min(int n, const AffineSearch& search, const float* x,
                        const float* weights, uint8_t* L, float& min_out);

}  // namespace natter::detail
