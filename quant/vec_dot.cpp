// Reference dot products of a weight row with a quantized activation row. Like llama.cpp,
// each block's products are summed exactly in integers and only then scaled, so these
// agree with its results to float rounding (it accumulates the scaled block sums in a
// different order). SIMD kernels are tested against these.
#include <type_traits>

#include "quant/iq.h"
#include "quant/quant.h"
#include "quant/unpack.h"

namespace natter {
namespace {

using detail::KGroups;

// The activation block each weight format is multiplied with (see types.cpp).
template <typename Weight>
struct ActivationOf {
    using type = BlockQ8_K;  // the k-quants and Q8_K
};
template <> struct ActivationOf<BlockQ4_0> { using type = BlockQ8_0; };
template <> struct ActivationOf<BlockQ5_0> { using type = BlockQ8_0; };
template <> struct ActivationOf<BlockQ8_0> { using type = BlockQ8_0; };
template <> struct ActivationOf<BlockIQ4_NL> { using type = BlockQ8_0; };
// The formats with an offset m need the activation sum, which only Q8_1 carries.
template <> struct ActivationOf<BlockQ4_1> { using type = BlockQ8_1; };
template <> struct ActivationOf<BlockQ5_1> { using type = BlockQ8_1; };
template <> struct ActivationOf<BlockQ8_1> { using type = BlockQ8_1; };

int integer_dot(const int8_t* a, const int8_t* b, int n) {
    int sum = 0;
    for (int i = 0; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

// Blocks with one scale: sum_i (dw * qw_i + m) * (da * qa_i)
//   = dw * da * sum_i qw_i * qa_i + m * (da * sum_i qa_i), the last factor being Q8_1's s.
template <typename Weight, typename Act>
float dot_simple(const Weight* w, const Act* a, int64_t count) {
    float sum = 0.0f;
    for (int64_t b = 0; b < count; ++b) {
        int8_t q[Weight::elements];
        detail::unpack(w[b], q);
        const int sumi = integer_dot(q, a[b].qs, Weight::elements);
        float offset = 0.0f;
        if constexpr (requires { w[b].m; }) offset = fp16_to_fp32(w[b].m) * fp16_to_fp32(a[b].s);
        sum += (detail::scale_of(w[b]) * detail::scale_of(a[b])) * static_cast<float>(sumi) + offset;
    }
    return sum;
}

// Sum of a Q8_K block's quants over one weight group, from the stored 16-element sums.
int group_activation_sum(const BlockQ8_K& a, const KGroups& groups, int g) {
    const int per_group = groups.group_size / 16;
    int sum = 0;
    for (int k = 0; k < per_group; ++k) sum += a.bsums[g * per_group + k];
    return sum;
}

// Super-blocks with per-group integer scales s_g and mins m_g:
//   sum_g sum_{i in g} (d * s_g * q_i - dmin * m_g) * (da * qa_i)
//   = d * da * sum_g s_g * (q . qa)_g  -  dmin * da * sum_g m_g * (sum of qa over g).
template <typename Weight>
float dot_groups(const Weight* w, const BlockQ8_K* a, int64_t count) {
    float sum = 0.0f;
    for (int64_t b = 0; b < count; ++b) {
        int8_t q[QK_K];
        KGroups groups;
        detail::unpack(w[b], q, groups);
        int scaled = 0;
        int mins = 0;
        for (int g = 0; g < groups.count; ++g) {
            const int first = g * groups.group_size;
            scaled += groups.scales[g] * integer_dot(q + first, a[b].qs + first, groups.group_size);
            mins += groups.mins[g] * group_activation_sum(a[b], groups, g);
        }
        const float d = fp16_to_fp32(w[b].d) * a[b].d;
        float dmin = 0.0f;
        if constexpr (requires { w[b].dmin; }) dmin = fp16_to_fp32(w[b].dmin) * a[b].d;
        sum += d * static_cast<float>(scaled) - dmin * static_cast<float>(mins);
    }
    return sum;
}

// Float rows: products rounded to float, summed in double (as llama.cpp's scalar code).
template <typename T, typename ToFloat>
float dot_floats(const void* row, const void* act, int64_t n, ToFloat to_float) {
    const auto* x = static_cast<const T*>(row);
    const auto* y = static_cast<const T*>(act);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(to_float(x[i]) * to_float(y[i]));
    return static_cast<float>(sum);
}

}  // namespace

float vec_dot(GgmlType type, int64_t n, const void* row, const void* act) {
    row_size(type, n);  // throws on an unknown type or a partial block
    if (detail::is_iq_super_block(type)) return detail::vec_dot_iq(type, n, row, static_cast<const BlockQ8_K*>(act));
    float result = 0.0f;
    const bool blocked = detail::visit_block_type(type, [&](auto tag) {
        using Weight = decltype(tag);
        using Act = typename ActivationOf<Weight>::type;
        const auto* w = static_cast<const Weight*>(row);
        const auto* a = static_cast<const Act*>(act);
        const int64_t count = n / Weight::elements;
        if constexpr (detail::GroupedBlock<Weight>) {
            result = dot_groups(w, a, count);
        } else {
            result = dot_simple(w, a, count);
        }
    });
    if (blocked) return result;
    switch (type) {
        case GgmlType::F16: return dot_floats<uint16_t>(row, act, n, fp16_to_fp32);
        case GgmlType::BF16: return dot_floats<uint16_t>(row, act, n, bf16_to_fp32);
        default: return dot_floats<float>(row, act, n, [](float v) { return v; });
    }
}

}  // namespace natter
