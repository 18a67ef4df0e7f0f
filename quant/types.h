#pragma once
// Tensor element types as numbered in the GGUF format, and what each one is made of.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace natter {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
};

struct TypeTraits {
    std::string_view name;   // as GGUF tools print it: "Q4_K", "F16", ...
    int64_t block_size;      // elements per block (1 for the float types)
    size_t type_size;        // bytes per block
    GgmlType vec_dot_type;   // format the activation row is converted to for vec_dot
};

// Traits of a type we support, or nullopt for an unknown / unsupported number.
std::optional<TypeTraits> type_traits(uint32_t type);
// Traits of a supported type (throws natter::Error on an unsupported one).
const TypeTraits& traits(GgmlType type);
std::string_view type_name(GgmlType type);
std::optional<GgmlType> type_from_name(std::string_view name);  // case-insensitive

// Bytes needed for a row of n elements; n must be a multiple of the block size.
size_t row_size(GgmlType type, int64_t n);

}  // namespace natter
