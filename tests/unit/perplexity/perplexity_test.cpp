// natter perplexity against llama.cpp (tests/reference/perplexity, made by
// tests/reference/make_perplexity_reference.py with llama-cpp-python on the same model and
// text), and the scoring arithmetic against hand calculations.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/paths.h"
#include "tools/perplexity.h"
#include "core/error.h"
#include "inference/model.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string model_path(const std::string& name) {
    if (name == "stories260K.gguf") return std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";
    return (paths::model_cache_dir() / name).string();
}

TEST(PerplexityMath, LogProbIsLogSoftmax) {
    // softmax of {0, ln 2, ln 5}: 1/8, 2/8, 5/8.
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f)};
    EXPECT_NEAR(tools::token_log_prob(logits, 0), std::log(1.0 / 8), 1e-6);
    EXPECT_NEAR(tools::token_log_prob(logits, 2), std::log(5.0 / 8), 1e-6);
    // Shifting every logit changes nothing; huge logits do not overflow.
    const std::vector<float> shifted = {1000.0f, 1000.0f + std::log(2.0f), 1000.0f + std::log(5.0f)};
    EXPECT_NEAR(tools::token_log_prob(shifted, 1), std::log(2.0 / 8), 1e-4);
    EXPECT_THROW(tools::token_log_prob(logits, 3), Error);
}

TEST(PerplexityErrors, TextShorterThanTwoChunksIsAClearError) {
    const auto model = Model::load(std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf");
    const auto tokens = tools::perplexity_tokens(*model, "Once upon a time there was a cat.");
    try {
        tools::compute_perplexity(*model, tokens, tools::PerplexityOptions{64, 64, 1, -1}, nullptr);
        ADD_FAILURE() << "a too short text was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("needs at least 128"), std::string::npos) << e.what();
    }
}

class PerplexityVsLlamaCpp : public ::testing::TestWithParam<std::string> {};

// Same tokens, same chunking, the running value after every chunk and the final estimate
// within 0.5% of llama.cpp's (the bar; in practice they agree to about 1e-4).
TEST_P(PerplexityVsLlamaCpp, AgreesWithinHalfAPercent) {
    const json ref = json::parse(read_all(fs::path(NATTER_REFERENCE_DIR) / "perplexity" / GetParam()));
    const auto model = Model::load(model_path(ref["model"].get<std::string>()));
    const std::string text = read_all(fs::path(NATTER_SOURCE_DIR) / "tests" / "data" / ref["text"].get<std::string>());
    const auto tokens = tools::perplexity_tokens(*model, text);
    ASSERT_EQ(static_cast<int64_t>(tokens.size()), ref["n_text_tokens"].get<int64_t>());
    const auto first = ref["first_tokens"].get<std::vector<int32_t>>();
    EXPECT_TRUE(std::equal(first.begin(), first.end(), tokens.begin())) << "tokenization differs from llama.cpp";

    // A few chunks keep the test fast; the reference's running values cover each one.
    const int n_ctx = ref["n_ctx"].get<int>();
    const int chunks = std::min(n_ctx >= 512 ? 2 : 4, ref["n_chunks"].get<int>());
    std::vector<double> running;
    // The references are llama.cpp's attention without flash attention (flash_attn=False).
    const tools::PerplexityResult r = tools::compute_perplexity(
        *model, tokens, tools::PerplexityOptions{n_ctx, n_ctx, 0, chunks, false},
        [&](const tools::PerplexityChunk& c) { running.push_back(c.ppl); });
    ASSERT_EQ(static_cast<int>(running.size()), chunks);
    EXPECT_EQ(r.n_scored, static_cast<int64_t>(chunks) * (n_ctx - n_ctx / 2 - 1));
    for (int i = 0; i < chunks; ++i) {
        const double want = ref["running"][static_cast<size_t>(i)].get<double>();
        std::cout << "[    ppl ] " << GetParam() << " chunk " << i + 1 << ": natter " << running[static_cast<size_t>(i)]
                  << ", llama.cpp " << want << "\n";
        EXPECT_NEAR(running[static_cast<size_t>(i)], want, 0.005 * want) << "chunk " << i + 1;
    }
    EXPECT_DOUBLE_EQ(r.ppl, running.back());
    if (chunks == ref["n_chunks"].get<int>()) {
        EXPECT_NEAR(r.ppl_error, ref["ppl_error"].get<double>(), 0.01 * r.ppl_error);
    }
}

std::vector<std::string> references() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(fs::path(NATTER_REFERENCE_DIR) / "perplexity")) {
        if (e.path().extension() == ".json") names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

INSTANTIATE_TEST_SUITE_P(Reference, PerplexityVsLlamaCpp, ::testing::ValuesIn(references()), [](const auto& info) {
    std::string n = info.param.substr(0, info.param.size() - 5);
    for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
});

}  // namespace
}  // namespace natter::test
