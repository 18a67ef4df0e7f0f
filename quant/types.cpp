// The table of supported tensor types.
#include "quant/types.h"

#include <array>
#include <cctype>
#include <string>

#include "core/error.h"
#include "quant/blocks.h"

namespace natter {
namespace {

struct Entry {
    GgmlType type;
    TypeTraits traits;
};

// vec_dot_type follows llama.cpp's CPU backend, so that activations are rounded the same
// way and our logits stay close to its logits.
constexpr std::array kTypes = {
    Entry{GgmlType::F32, {"F32", 1, sizeof(float), GgmlType::F32}},
    Entry{GgmlType::F16, {"F16", 1, sizeof(uint16_t), GgmlType::F16}},
    Entry{GgmlType::BF16, {"BF16", 1, sizeof(uint16_t), GgmlType::BF16}},
    Entry{GgmlType::Q4_0, {"Q4_0", QK4_0, sizeof(BlockQ4_0), GgmlType::Q8_0}},
    Entry{GgmlType::Q4_1, {"Q4_1", QK4_1, sizeof(BlockQ4_1), GgmlType::Q8_1}},
    Entry{GgmlType::Q5_0, {"Q5_0", QK5_0, sizeof(BlockQ5_0), GgmlType::Q8_0}},
    Entry{GgmlType::Q5_1, {"Q5_1", QK5_1, sizeof(BlockQ5_1), GgmlType::Q8_1}},
    Entry{GgmlType::Q8_0, {"Q8_0", QK8_0, sizeof(BlockQ8_0), GgmlType::Q8_0}},
    Entry{GgmlType::Q8_1, {"Q8_1", QK8_1, sizeof(BlockQ8_1), GgmlType::Q8_1}},
    Entry{GgmlType::Q2_K, {"Q2_K", QK_K, sizeof(BlockQ2_K), GgmlType::Q8_K}},
    Entry{GgmlType::Q3_K, {"Q3_K", QK_K, sizeof(BlockQ3_K), GgmlType::Q8_K}},
    Entry{GgmlType::Q4_K, {"Q4_K", QK_K, sizeof(BlockQ4_K), GgmlType::Q8_K}},
    Entry{GgmlType::Q5_K, {"Q5_K", QK_K, sizeof(BlockQ5_K), GgmlType::Q8_K}},
    Entry{GgmlType::Q6_K, {"Q6_K", QK_K, sizeof(BlockQ6_K), GgmlType::Q8_K}},
    Entry{GgmlType::Q8_K, {"Q8_K", QK_K, sizeof(BlockQ8_K), GgmlType::Q8_K}},
    Entry{GgmlType::IQ4_NL, {"IQ4_NL", QK4_NL, sizeof(BlockIQ4_NL), GgmlType::Q8_0}},
    Entry{GgmlType::IQ4_XS, {"IQ4_XS", QK_K, sizeof(BlockIQ4_XS), GgmlType::Q8_K}},
    Entry{GgmlType::IQ3_S, {"IQ3_S", QK_K, sizeof(BlockIQ3_S), GgmlType::Q8_K}},
    Entry{GgmlType::IQ3_XXS, {"IQ3_XXS", QK_K, sizeof(BlockIQ3_XXS), GgmlType::Q8_K}},
    Entry{GgmlType::IQ2_S, {"IQ2_S", QK_K, sizeof(BlockIQ2_S), GgmlType::Q8_K}},
    Entry{GgmlType::IQ2_XS, {"IQ2_XS", QK_K, sizeof(BlockIQ2_XS), GgmlType::Q8_K}},
    Entry{GgmlType::IQ2_XXS, {"IQ2_XXS", QK_K, sizeof(BlockIQ2_XXS), GgmlType::Q8_K}},
    Entry{GgmlType::IQ1_M, {"IQ1_M", QK_K, sizeof(BlockIQ1_M), GgmlType::Q8_K}},
    Entry{GgmlType::IQ1_S, {"IQ1_S", QK_K, sizeof(BlockIQ1_S), GgmlType::Q8_K}},
    Entry{GgmlType::TQ1_0, {"TQ1_0", QK_K, sizeof(BlockTQ1_0), GgmlType::Q8_K}},
    Entry{GgmlType::TQ2_0, {"TQ2_0", QK_K, sizeof(BlockTQ2_0), GgmlType::Q8_K}},
};

const Entry* find_entry(uint32_t type) {
    for (const Entry& entry : kTypes) {
        if (static_cast<uint32_t>(entry.type) == type) return &entry;
    }
    return nullptr;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(a[i])) !=
            std::toupper(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t type) {
    const Entry* entry = find_entry(type);
    if (entry == nullptr) return std::nullopt;
    return entry->traits;
}

const TypeTraits& traits(GgmlType type) {
    const Entry* entry = find_entry(static_cast<uint32_t>(type));
    if (entry == nullptr) {
        throw Error("Tensor type " + std::to_string(static_cast<uint32_t>(type)) +
                    " is not supported.");
    }
    return entry->traits;
}

std::string_view type_name(GgmlType type) { return traits(type).name; }

std::optional<GgmlType> type_from_name(std::string_view name) {
    for (const Entry& entry : kTypes) {
        if (equal_ignoring_case(entry.traits.name, name)) return entry.type;
    }
    return std::nullopt;
}

size_t row_size(GgmlType type, int64_t n) {
    const TypeTraits& t = traits(type);
    if (n < 0 || n % t.block_size != 0) {
        throw Error("A row of " + std::to_string(n) + " elements cannot be stored as " +
                    std::string(t.name) + ", whose blocks hold " +
                    std::to_string(t.block_size) + " elements.");
    }
    return static_cast<size_t>(n / t.block_size) * t.type_size;
}

}  // namespace natter
