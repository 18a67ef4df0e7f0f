#pragma once
// What the natter convert tests share: the committed checkpoints and references, the
// comparison of a converted file with llama.cpp's (tests/reference/convert/*.json, made by
// make_convert_checkpoints.py), and the engine run checked against transformers' logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "inference/forward.h"
#include "inference/gguf.h"
#include "inference/model.h"

namespace natter::test {

inline std::string checkpoint_dir(const std::string& name) { return std::string(NATTER_TEST_DATA_DIR) + "/checkpoints/" + name; }

inline nlohmann::json convert_reference(const std::string& name) {
    std::ifstream in(std::string(NATTER_REFERENCE_DIR) + "/convert/" + name + ".json");
    return nlohmann::json::parse(in);
}

inline std::string upper(std::string_view s) {
    std::string u(s);
    for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
}

// The digest the reference script takes of an array: strings as UTF-8 and a NUL, numbers as
// their 4 little-endian bytes.
inline std::string array_digest(const GgufArray& a) {
    Sha256 h;
    for (const GgufValue& v : a.items) {
        if (const auto* s = std::get_if<std::string>(&v.value)) {
            h.update(s->data(), s->size());
            h.update("", 1);
        } else if (const auto* f = std::get_if<float>(&v.value)) {
            h.update(f, 4);
        } else if (const auto* i = std::get_if<int32_t>(&v.value)) {
            h.update(i, 4);
        } else if (const auto* u = std::get_if<uint32_t>(&v.value)) {
            h.update(u, 4);
        }
    }
    return h.hex();
}

// One metadata value against the reference's {"type", "value"} (or an array's count and digest).
inline void expect_value(const std::string& key, const GgufValue& v, const nlohmann::json& ref) {
    ASSERT_EQ(upper(gguf_type_name(v.type())), ref["type"].get<std::string>()) << key;
    if (v.type() == GgufType::ARRAY) {
        const GgufArray& a = v.as_array();
        ASSERT_EQ(upper(gguf_type_name(a.element_type)), ref["element_type"].get<std::string>()) << key;
        if (ref.contains("sha256")) {
            EXPECT_EQ(a.items.size(), ref["count"].get<size_t>()) << key;
            EXPECT_EQ(array_digest(a), ref["sha256"].get<std::string>()) << key;
            return;
        }
        ASSERT_EQ(a.items.size(), ref["value"].size()) << key;
        for (size_t i = 0; i < a.items.size(); ++i) {
            const GgufValue& item = a.items[i];
            const nlohmann::json& r = ref["value"][i];
            if (item.type() == GgufType::STRING) EXPECT_EQ(item.as_string(), r.get<std::string>()) << key << "[" << i << "]";
            else if (item.type() == GgufType::FLOAT32) EXPECT_EQ(std::get<float>(item.value), r.get<float>()) << key << "[" << i << "]";
            else EXPECT_EQ(item.as_int(), r.get<int64_t>()) << key << "[" << i << "]";
        }
        return;
    }
    switch (v.type()) {
        case GgufType::STRING: EXPECT_EQ(v.as_string(), ref["value"].get<std::string>()) << key; break;
        case GgufType::BOOL: EXPECT_EQ(v.as_bool(), ref["value"].get<bool>()) << key; break;
        case GgufType::FLOAT32: EXPECT_EQ(std::get<float>(v.value), ref["value"].get<float>()) << key; break;
        default: EXPECT_EQ(v.as_int(), ref["value"].get<int64_t>()) << key;
    }
}

// A converted file against llama.cpp's conversion of the same checkpoint: the same metadata
// keys with the same types and values, the same tensors with the same types, shapes and bytes.
inline void expect_same_as_llama_cpp(const GgufFile& f, const nlohmann::json& ref) {
    std::vector<std::string> keys, ref_keys;
    for (const auto& [k, v] : f.metadata()) {
        keys.push_back(k);
        if (ref["metadata"].contains(k)) expect_value(k, v, ref["metadata"][k]);
    }
    for (const auto& [k, _] : ref["metadata"].items()) ref_keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, ref_keys);  // the reference's keys are sorted
    std::vector<std::string> names, ref_names;
    for (const GgufTensor& t : f.tensors()) {
        names.push_back(t.name);
        if (!ref["tensors"].contains(t.name)) continue;
        const nlohmann::json& r = ref["tensors"][t.name];
        EXPECT_EQ(std::string(type_name(t.type)), r["type"].get<std::string>()) << t.name;
        EXPECT_EQ(t.shape, r["shape"].get<std::vector<int64_t>>()) << t.name;
        EXPECT_EQ(sha256_hex({t.data, t.nbytes}), r["sha256"].get<std::string>()) << t.name;
    }
    for (const auto& [k, _] : ref["tensors"].items()) ref_names.push_back(k);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, ref_names);
}

// The model's logits after the prompt and its greedy continuation, against transformers'.
inline void expect_transformers_logits(const Model& model, const std::vector<int32_t>& prompt,
                                       const std::vector<float>& want_logits, const std::vector<int32_t>& want_greedy,
                                       float tolerance) {
    ForwardOptions fo;
    fo.n_ctx = 256;
    fo.n_threads = 1;
    Forward fw(model, fo);
    std::span<const float> logits = fw.eval(prompt, 0);
    ASSERT_EQ(logits.size(), want_logits.size());
    float worst = 0;
    for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::fabs(logits[i] - want_logits[i]));
    EXPECT_LT(worst, tolerance) << "max |natter - transformers| over the vocabulary";
    std::vector<int32_t> greedy;
    int n_past = static_cast<int>(prompt.size());
    for (size_t i = 0; i < want_greedy.size(); ++i) {
        const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        greedy.push_back(best);
        const int32_t next[1] = {best};
        logits = fw.eval(next, n_past++);
    }
    EXPECT_EQ(greedy, want_greedy);
}

}  // namespace natter::test
