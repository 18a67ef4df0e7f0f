// Whole models: `natter quantize` on the exact F32 copy of the default model writes, for
// every file type, the same per-tensor types and the same tensor bytes as llama.cpp's
// quantizer; and llama.cpp, run on files we wrote, produces the greedy tokens natter does.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "tools/quantize.h"
#include "inference/file_type.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/ops.h"
#include "unit/quantize/quantize_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Our file of `type` made from the F32 source, in the cache (reused by later tests).
std::string our_quantized(const std::string& type) {
    std::string lower = type;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string dir = natter_cache_dir() + "/quantize/ours";
    fs::create_directories(dir);
    const std::string path = dir + "/smollm2-" + lower + ".gguf";
    tools::QuantizeOptions o{f32_source(), path, tools::parse_file_type(type), false, false, 0, ""};
    tools::quantize_model(o, nullptr);
    return path;
}

std::vector<std::string> reference_types() {
    const json doc = quantize_reference("choices.json");  // must outlive the loop below
    std::vector<std::string> types;
    for (const auto& [type, ref] : doc["types"].items()) types.push_back(type);
    return types;
}

class QuantizeVsLlamaCpp : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeVsLlamaCpp, SameTypesAndTensorBytes) {
    const std::string type = GetParam();
    const json ref = quantize_reference("choices.json")["types"][type]["tensors"];
    const std::string path = our_quantized(type);
    const GgufFile ours = GgufFile::open(path);
    EXPECT_EQ(ours.get_int("general.file_type", -1), tools::parse_file_type(type).ftype);
    // What the chat's status line, bench and info call the file: llama.cpp's name for it.
    EXPECT_EQ(file_type_label(ours), type);
    ASSERT_EQ(ours.tensors().size(), ref.size());
    int identical = 0;
    for (const GgufTensor& t : ours.tensors()) {
        ASSERT_TRUE(ref.contains(t.name)) << t.name;
        EXPECT_EQ(type_name(t.type), ref[t.name][0].get<std::string>()) << t.name;
        const bool same = sha256_hex({t.data, t.nbytes}).substr(0, 16) == ref[t.name][1].get<std::string>();
        EXPECT_TRUE(same) << type << " " << t.name << ": tensor bytes differ from llama.cpp's";
        identical += same;
    }
    std::cout << "[  bytes ] " << type << ": " << identical << "/" << ours.tensors().size()
              << " tensors byte-identical to llama.cpp's\n";
}

INSTANTIATE_TEST_SUITE_P(EveryFileType, QuantizeVsLlamaCpp, ::testing::ValuesIn(reference_types()),
                         [](const auto& info) { return info.param; });

// llama.cpp ran on the file we write for these types (sha256 recorded); natter must produce
// the same greedy tokens (a divergence is accepted only where llama.cpp is at a near-tie).
std::vector<std::string> greedy_references() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(fs::path(NATTER_REFERENCE_DIR) / "quantize")) {
        const std::string n = e.path().filename().string();
        if (n.starts_with("greedy-") && n.ends_with(".json")) names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    return names;
}

class LlamaCppRunsOurFiles : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppRunsOurFiles, SameGreedyTokensAsNatter) {
    const json doc = quantize_reference(GetParam());
    const std::string path = our_quantized(doc["type"].get<std::string>());
    ASSERT_EQ(file_sha256(path), doc["sha256"].get<std::string>()) << path << " is not the file llama.cpp ran on";
    const auto model = Model::load(path);
    for (const json& c : doc["cases"]) {
        expect_greedy_tokens(*model, c, doc["type"].get<std::string>() + "/" + c["name"].get<std::string>());
    }
}

INSTANTIATE_TEST_SUITE_P(Reference, LlamaCppRunsOurFiles, ::testing::ValuesIn(greedy_references()),
                         [](const auto& info) {
                             std::string n = info.param.substr(7, info.param.size() - 12);
                             for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

}  // namespace
}  // namespace natter::test
