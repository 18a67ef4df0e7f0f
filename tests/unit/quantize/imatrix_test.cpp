// Importance matrices against llama.cpp's (tests/reference/make_imatrix_reference.py):
// natter's sums on the same text, in both of its file formats, and natter quantize
// --imatrix writing the tensor bytes llama-quantize --imatrix writes.
//
// The bound: natter's activations are llama.cpp's bit for bit (the AVX2 backend), and the
// sums are added in llama.cpp's order (token after token, each square rounded, then added in
// float), so the matrices are equal exactly; the test allows nothing more. (llama-imatrix's
// default batch of 2048 evaluates 4 chunks of 512 at once, which can change the order of the
// tokens in a sum: then the two agree within float summation order, a relative 1e-6 or so.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/sha256.h"
#include "inference/gguf.h"
#include "inference/model.h"
#include "tools/imatrix.h"
#include "tools/quantize_mix.h"
#include "unit/quantize/quantize_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string reference(const std::string& name) { return std::string(NATTER_REFERENCE_DIR) + "/imatrix/" + name; }
std::string tiny_model(const std::string& name) { return std::string(NATTER_TEST_DATA_DIR) + "/models/" + name + ".gguf"; }

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json reference_json(const std::string& name) {
    std::ifstream in(reference(name));
    if (!in) throw std::runtime_error("cannot read reference " + name);
    return json::parse(in);
}

struct ScratchDir {
    fs::path path = fs::temp_directory_path() / ("natter-imatrix-" + std::to_string(::getpid()));
    ScratchDir() { fs::create_directories(path); }
    ~ScratchDir() { fs::remove_all(path); }
};

// The references are llama.cpp's attention without flash attention (-fa off): so is this,
// whatever perplexity's default.
template <typename Options>
void without_flash_attention(Options& o) {
    if constexpr (requires { o.flash_attn; }) o.flash_attn = false;
}

// As the reference was made: genesis-kjv.txt, 2 chunks of 128 tokens, batches of 128.
tools::Imatrix natter_imatrix(const std::string& model_path) {
    const auto model = Model::load(model_path);
    const std::string text = file_bytes(std::string(NATTER_TEST_DATA_DIR) + "/genesis-kjv.txt");
    tools::ImatrixOptions o;
    o.eval.n_ctx = 128;
    o.eval.n_batch = 128;
    o.eval.n_chunks = 2;
    o.eval.n_threads = 2;
    without_flash_attention(o.eval);
    o.dataset = "genesis-kjv.txt";
    return tools::compute_imatrix(*model, tools::perplexity_tokens(*model, text), o, nullptr);
}

class ImatrixVsLlamaCpp : public ::testing::TestWithParam<std::string> {};

TEST_P(ImatrixVsLlamaCpp, SameSumsAndCountsAndFileBytesInBothFormats) {
    const std::string name = GetParam();
    const tools::Imatrix ours = natter_imatrix(tiny_model(name));
    const tools::Imatrix theirs = tools::read_imatrix(reference(name + ".imatrix.gguf"));
    ASSERT_EQ(ours.entries.size(), theirs.entries.size());
    EXPECT_EQ(ours.chunk_count, 2);
    EXPECT_EQ(theirs.chunk_count, 2);
    EXPECT_EQ(ours.datasets, theirs.datasets);
    for (const auto& [weight, t] : theirs.entries) {
        ASSERT_TRUE(ours.entries.contains(weight)) << weight;
        const tools::ImatrixEntry& o = ours.entries.at(weight);
        EXPECT_EQ(o.counts, t.counts) << weight;
        EXPECT_EQ(o.sums, t.sums) << weight;
    }
    // phi3's fused Q/K/V and gate+up are one matmul each, collected once.
    if (name.starts_with("phi3")) {
        EXPECT_TRUE(ours.entries.contains("blk.0.attn_qkv.weight"));
        EXPECT_FALSE(ours.entries.contains("blk.0.attn_q.weight"));
    }
    ScratchDir dir;
    for (const auto& [ext, format] : {std::pair{"gguf", tools::ImatrixFormat::Gguf}, std::pair{"dat", tools::ImatrixFormat::Dat}}) {
        const std::string path = (dir.path / (name + ".imatrix." + ext)).string();
        tools::write_imatrix(ours, path, format);
        EXPECT_TRUE(file_bytes(path) == file_bytes(reference(name + ".imatrix." + ext)))
            << path << " differs from llama-imatrix's --output-format " << ext;
    }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ImatrixVsLlamaCpp, ::testing::Values("qwen2-random-q8_0", "phi3-random-q8_0"));

TEST(ImatrixVsLlamaCpp, DefaultModel) {
    const json ref = reference_json("smollm2.json");
    const tools::Imatrix ours = natter_imatrix(default_model_path());
    ASSERT_EQ(ours.entries.size(), ref["entries"].size());
    for (const auto& [weight, r] : ref["entries"].items()) {
        ASSERT_TRUE(ours.entries.contains(weight)) << weight;
        const tools::ImatrixEntry& o = ours.entries.at(weight);
        ASSERT_EQ(o.sums.size(), r["n"].get<size_t>()) << weight;
        EXPECT_EQ(o.counts.at(0), r["count"].get<int64_t>()) << weight;
        double total = 0;
        for (const float v : o.sums) total += v;
        EXPECT_EQ(total, r["total"].get<double>()) << weight;
        for (size_t i = 0; i < r["columns"].size(); ++i) {
            EXPECT_EQ(o.sums.at(r["columns"][i].get<size_t>()), r["values"][i].get<float>()) << weight << " column " << i;
        }
    }
}

TEST(ImatrixFiles, LegacyAndGgufGiveTheSameQuantizeWeights) {
    const auto gguf = tools::importance_weights(tools::read_imatrix(reference("qwen2-random-q8_0.imatrix.gguf")));
    const auto dat = tools::importance_weights(tools::read_imatrix(reference("qwen2-random-q8_0.imatrix.dat")));
    ASSERT_EQ(gguf.size(), 14u);
    ASSERT_EQ(dat.size(), gguf.size());
    for (const auto& [name, w] : gguf) {
        ASSERT_EQ(dat.at(name).size(), w.size());
        for (size_t i = 0; i < w.size(); ++i) {
            // .dat stores sum / 256 * 2 (256 tokens, 2 chunks), read back / 2: powers of two, exact.
            EXPECT_EQ(dat.at(name)[i], w[i]) << name << " " << i;
        }
    }
}

TEST(ImatrixFiles, BadFilesAreOneClearSentence) {
    ScratchDir dir;
    const std::string cut = (dir.path / "cut.dat").string();
    const std::string whole = file_bytes(reference("qwen2-random-q8_0.imatrix.dat"));
    std::ofstream(cut, std::ios::binary) << whole.substr(0, 1000);
    try {
        tools::read_imatrix(cut);
        ADD_FAILURE() << "a cut .dat was read";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is neither a GGUF nor a legacy .dat importance matrix"), std::string::npos)
            << e.what();
    }
    // A model is a GGUF, but not an importance matrix.
    try {
        tools::read_imatrix(tiny_model("qwen2-random-q8_0"));
        ADD_FAILURE() << "a model was read as an importance matrix";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("without the imatrix.datasets"), std::string::npos) << e.what();
    }
    EXPECT_THROW(tools::read_imatrix((dir.path / "missing.gguf").string()), Error);
}

// llama.cpp's rule: IQ1_*, IQ2_*, IQ3_XXS weights (and Q2_K in Q2_K_S) only with a matrix,
// refused in one sentence before any work; with one that leaves out such a tensor, too.
TEST(ImatrixQuantize, LowestTypesNeedAnImatrixSaysSo) {
    ScratchDir dir;
    const std::string out = (dir.path / "q.gguf").string();
    for (const char* type : {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "Q2_K_S"}) {
        tools::QuantizeOptions o{tiny_model("qwen2-random-q8_0"), out, tools::parse_file_type(type), false, true, 2, ""};
        try {
            tools::quantize_model(o, nullptr);
            ADD_FAILURE() << type << " was made without an importance matrix";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string(" in ") + type + " needs an importance matrix (--imatrix FILE"),
                      std::string::npos) << e.what();
        }
        EXPECT_FALSE(fs::exists(out)) << type;
    }
    // What counts is the type after the fallback: stories260K's rows (64, 172) take IQ4_NL,
    // Q4_0 and F16 in IQ2_XXS, which need no matrix.
    tools::QuantizeOptions o{tiny_model("stories260K"), out, tools::parse_file_type("IQ2_XXS"), false, true, 2, ""};
    EXPECT_NO_THROW(tools::quantize_model(o, nullptr));
    // The embeddings and the output never need one.
    EXPECT_FALSE(tools::tensor_requires_imatrix("token_embd.weight", GgmlType::IQ2_XXS, 19));
    EXPECT_FALSE(tools::tensor_requires_imatrix("output.weight", GgmlType::IQ1_S, 24));
    EXPECT_TRUE(tools::tensor_requires_imatrix("blk.3.ffn_up.weight", GgmlType::IQ1_S, 24));
    EXPECT_FALSE(tools::tensor_requires_imatrix("blk.3.ffn_up.weight", GgmlType::Q2_K, 10));
    EXPECT_TRUE(tools::tensor_requires_imatrix("blk.3.ffn_up.weight", GgmlType::Q2_K, 21));
    // A matrix without the tensor's entry: the phi3 model's names are not qwen2's.
    tools::QuantizeOptions partial{tiny_model("qwen2-random-q8_0"), out, tools::parse_file_type("IQ3_XXS"), true, true, 2,
                                   reference("phi3-random-q8_0.imatrix.gguf")};
    try {
        tools::quantize_model(partial, nullptr);
        ADD_FAILURE() << "IQ3_XXS was made with a matrix for another model";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("has no importance values for blk.0.attn_k.weight"), std::string::npos) << e.what();
    }
}

class QuantizeWithImatrix : public ::testing::TestWithParam<std::string> {};

// llama-quantize --allow-requantize --imatrix on qwen2-random-q8_0 (run from tests/data, so the
// paths it records are relative to it); natter with the same paths from the same folder.
TEST_P(QuantizeWithImatrix, SameTensorBytesAsLlamaQuantize) {
    const std::string key = GetParam();
    const std::string type = key.substr(0, key.find('/'));
    const bool dat = key.ends_with("/dat");
    const json ref = reference_json("quantize.json")["types"][key];
    ScratchDir dir;
    const fs::path cwd = fs::current_path();
    fs::current_path(NATTER_TEST_DATA_DIR);
    const std::string out = (dir.path / "q.gguf").string();
    tools::QuantizeOptions o{"models/qwen2-random-q8_0.gguf", out, tools::parse_file_type(type), false, true, 2,
                             std::string("../reference/imatrix/qwen2-random-q8_0.imatrix.") + (dat ? "dat" : "gguf")};
    const tools::QuantizeSummary s = tools::quantize_model(o, nullptr);
    fs::current_path(cwd);
    EXPECT_EQ(s.n_with_imatrix, 14);
    const GgufFile f = GgufFile::open(out);
    expect_imatrix_keys_as_reference(f, ref["keys"], key);
    expect_tensors_as_reference(f, ref["tensors"], key);
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeWithImatrix,
                         ::testing::Values("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_S", "Q6_K",
                                           "IQ4_NL", "IQ4_XS", "Q4_K_S/dat"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n) c = c == '/' ? '_' : c;
                             return n;
                         });

}  // namespace
}  // namespace natter::test
