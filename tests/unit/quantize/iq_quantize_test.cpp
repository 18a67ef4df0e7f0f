// The IQ3 and ternary quantizers against llama-quantize (tests/reference/quantize/iq-tiny.json,
// made by tests/reference/make_iq_quantize_reference.py): natter quantize on qwen2-random-q8_0,
// --pure and mixed, with llama-imatrix's matrix and without, writes llama.cpp's tensor bytes.
// With the matrix, token_embd and output (which it has no entries for) go through the
// quantizers' unweighted path, so every case checks that path too.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <unistd.h>

#include "inference/gguf.h"
#include "tools/quantize.h"
#include "unit/quantize/quantize_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> cases() {
    const json doc = quantize_reference("iq-tiny.json");
    std::vector<std::string> names;
    for (const auto& [name, c] : doc["cases"].items()) names.push_back(name);
    return names;
}

class IqQuantize : public ::testing::TestWithParam<std::string> {};

TEST_P(IqQuantize, SameTensorBytesAsLlamaQuantize) {
    const json ref = quantize_reference("iq-tiny.json")["cases"][GetParam()];
    const fs::path dir = fs::temp_directory_path() / ("natter-iq-quantize-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string out = (dir / "q.gguf").string();
    // As the reference was made: from tests/data, with the paths it records relative to it.
    const fs::path cwd = fs::current_path();
    fs::current_path(NATTER_TEST_DATA_DIR);
    tools::QuantizeOptions o{"models/qwen2-random-q8_0.gguf", out, tools::parse_file_type(ref["type"].get<std::string>()),
                             ref["pure"].get<bool>(), true, 2,
                             ref["imatrix"].get<bool>() ? "../reference/imatrix/qwen2-random-q8_0.imatrix.gguf" : ""};
    const tools::QuantizeSummary s = tools::quantize_model(o, nullptr);
    fs::current_path(cwd);
    EXPECT_EQ(s.n_with_imatrix, ref["imatrix"].get<bool>() ? 14 : 0);
    {
        const GgufFile f = GgufFile::open(out);
        expect_imatrix_keys_as_reference(f, ref["keys"], GetParam());
        if (ref["keys"].empty()) {
            EXPECT_FALSE(f.find("quantize.imatrix.file"));
        }
        expect_tensors_as_reference(f, ref["tensors"], GetParam());
    }
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Cases, IqQuantize, ::testing::ValuesIn(cases()), [](const auto& info) {
    std::string n = info.param;
    for (char& c : n) c = c == '/' ? '_' : c;
    return n;
});

}  // namespace
}  // namespace natter::test
