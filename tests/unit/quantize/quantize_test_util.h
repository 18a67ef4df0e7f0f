#pragma once
// Shared by the quantize tests: where models live, the reference files of
// tests/reference/make_quantize_reference.py, and the exact F32 copy of the default model
// that llama.cpp quantized for them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdlib>
#include <iostream>
#include <span>
#include <vector>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/paths.h"
#include "tools/quantize.h"
#include "inference/gguf.h"
#include "core/sha256.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/ops.h"

namespace natter::test {

inline std::string natter_cache_dir() { return paths::cache_dir().string(); }

inline std::string default_model_path() {
    return natter_cache_dir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

inline nlohmann::json quantize_reference(const std::string& name) {
    std::ifstream in(std::string(NATTER_REFERENCE_DIR) + "/quantize/" + name);
    if (!in) throw std::runtime_error("cannot read reference " + name);
    return nlohmann::json::parse(in);
}

inline std::string file_sha256(const std::string& path) {
    return std::filesystem::exists(path) ? natter::file_sha256(path) : std::string();
}

// The default model's weights as F32 (made by our quantizer, checked against the sha256 the
// reference was made from); empty with a test failure when that cannot be had.
inline std::string f32_source() {
    static std::string checked;  // checking 540 MB once per run is enough
    if (!checked.empty()) return checked;
    const nlohmann::json doc = quantize_reference("choices.json");
    const std::string path = natter_cache_dir() + "/quantize/" + doc["source"].get<std::string>();
    if (!std::filesystem::exists(path) || file_sha256(path) != doc["source_sha256"]) {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        tools::QuantizeOptions o{default_model_path(), path, tools::parse_file_type("F32"), true, true, 0, ""};
        tools::quantize_model(o, nullptr);
        EXPECT_EQ(file_sha256(path), doc["source_sha256"]) << path << " differs from the reference's source";
    }
    checked = path;
    return path;
}

// Every tensor of `file` has the type and the short sha256 (16 hex digits) of `ref`'s
// name -> [type, sha] (the tables the reference scripts write).
inline void expect_tensors_as_reference(const GgufFile& file, const nlohmann::json& ref, const std::string& label) {
    ASSERT_EQ(file.tensors().size(), ref.size()) << label;
    for (const GgufTensor& t : file.tensors()) {
        ASSERT_TRUE(ref.contains(t.name)) << label << " " << t.name;
        EXPECT_EQ(type_name(t.type), ref[t.name][0].get<std::string>()) << label << " " << t.name;
        EXPECT_EQ(sha256_hex({t.data, t.nbytes}).substr(0, 16), ref[t.name][1].get<std::string>())
            << label << " " << t.name << ": tensor bytes differ from llama.cpp's";
    }
}

// The quantize.imatrix.* keys the reference recorded, with the same values.
inline void expect_imatrix_keys_as_reference(const GgufFile& file, const nlohmann::json& keys, const std::string& label) {
    for (const auto& [k, v] : keys.items()) {
        const GgufValue* ours = file.find(k);
        ASSERT_TRUE(ours) << label << " " << k;
        if (v.is_string()) EXPECT_EQ(ours->as_string(), v.get<std::string>()) << label << " " << k;
        else EXPECT_EQ(ours->as_int(), v.get<int64_t>()) << label << " " << k;
    }
}

// natter's greedy continuation of a reference case (prompt_tokens, generated, top2: llama.cpp
// run on the same file) must be llama.cpp's; a divergence is accepted only where llama.cpp is
// at a near-tie. label names the case in the log and in failures.
inline void expect_greedy_tokens(const Model& model, const nlohmann::json& c, const std::string& label) {
    constexpr float kNearTie = 0.01f;
    const auto prompt = c["prompt_tokens"].get<std::vector<int32_t>>();
    const auto expected = c["generated"].get<std::vector<int32_t>>();
    const auto top2 = c["top2"].get<std::vector<std::array<float, 2>>>();
    Forward fwd(model, ForwardOptions{512, 512, 0});
    std::vector<int32_t> tokens = prompt;
    std::span<const float> logits = fwd.eval(prompt, 0);
    size_t same = 0;
    for (; same < expected.size(); ++same) {
        const int32_t id = argmax(logits);
        if (id != expected[same]) break;
        tokens.push_back(id);
        logits = fwd.eval(std::span<const int32_t>(&tokens.back(), 1), static_cast<int>(tokens.size()) - 1);
    }
    std::cout << "[ greedy ] " << label << ": " << same << "/" << expected.size() << " tokens as llama.cpp\n";
    if (same < expected.size()) {
        EXPECT_LT(top2[same][0] - top2[same][1], kNearTie)
            << label << ": diverges at token " << same << " where llama.cpp is not at a near-tie";
    }
}

}  // namespace natter::test
