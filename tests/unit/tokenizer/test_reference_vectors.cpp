// Vectors recorded from llama.cpp itself (tests/reference/make_tokenizer_vectors.py) for the
// default model's vocabulary (SmolLM2, pre-tokenizer "smollm"), stories260K and the shared
// SPM / GPT-2 vocabularies: varied scripts, code, emoji, whitespace runs, numbers,
// contractions, special tokens with parse_special on and off, malformed UTF-8, and seeded
// random mixes. Ids, detokenized text, every token's piece and the end-of-generation set
// must all match.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer_fixtures.h"

namespace natter::test {
namespace {

using nlohmann::json;

json load_json(const std::string& name) {
    std::ifstream in(reference_path(name));
    EXPECT_TRUE(in) << "missing " << reference_path(name);
    return json::parse(in);
}

// Text fields hold a string, or {"hex": ...} for bytes that are not valid UTF-8.
std::string bytes_of(const json& field) {
    if (field.is_string()) return field.get<std::string>();
    const std::string hex = field.at("hex").get<std::string>();
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(char(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

uint64_t pieces_fnv1a64(const Tokenizer& tokenizer, bool render_special) {
    uint64_t h = 0xCBF29CE484222325ull;
    auto mix = [&](uint8_t b) { h = (h ^ b) * 0x100000001B3ull; };
    for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
        const std::string piece = tokenizer.token_to_piece(id, render_special);
        for (int i = 0; i < 4; ++i) mix(uint8_t(piece.size() >> (8 * i)));
        for (char c : piece) mix(uint8_t(c));
    }
    return h;
}

void check_vocab(const Tokenizer& tokenizer, const json& expected) {
    EXPECT_EQ(tokenizer.n_vocab(), expected.at("n_vocab").get<int32_t>());
    EXPECT_EQ(tokenizer.bos(), expected.at("bos").get<int32_t>());
    EXPECT_EQ(tokenizer.eos(), expected.at("eos").get<int32_t>());
    EXPECT_EQ(tokenizer.add_bos(), expected.at("add_bos").get<bool>());
    EXPECT_EQ(tokenizer.add_eos(), expected.at("add_eos").get<bool>());
    std::vector<int32_t> eog;
    for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
        if (tokenizer.is_eog(id)) eog.push_back(id);
    }
    EXPECT_EQ(eog, expected.at("eog").get<std::vector<int32_t>>());
}

void check_cases(const Tokenizer& tokenizer, const json& cases) {
    int failures = 0;
    for (const json& c : cases) {
        const std::string text = bytes_of(c.at("text"));
        const bool add_special = c.at("add_special").get<bool>();
        const bool parse_special = c.at("parse_special").get<bool>();
        const std::vector<int32_t> ids = tokenizer.tokenize(text, add_special, parse_special);
        bool ok = ids == c.at("ids").get<std::vector<int32_t>>();
        EXPECT_TRUE(ok) << "ids differ for \"" << text << "\" add_special=" << add_special
                        << " parse_special=" << parse_special << "\n  expected " << c.at("ids").dump()
                        << "\n  actual   " << json(ids).dump();
        if (c.contains("detok_special")) {
            const std::string special = tokenizer.detokenize(ids, true), plain = tokenizer.detokenize(ids, false);
            EXPECT_EQ(special, bytes_of(c.at("detok_special"))) << "text: " << text;
            EXPECT_EQ(plain, bytes_of(c.at("detok_plain"))) << "text: " << text;
            ok = ok && special == bytes_of(c.at("detok_special")) && plain == bytes_of(c.at("detok_plain"));
        }
        if (!ok && ++failures >= 20) FAIL() << "stopping after 20 failing cases";
    }
}

void check_reference(const Tokenizer& tokenizer, const std::string& file, size_t min_cases = 400) {
    const json reference = load_json(file);
    ASSERT_GE(reference.at("cases").size(), min_cases);
    check_vocab(tokenizer, reference.at("vocab"));
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", (unsigned long long)pieces_fnv1a64(tokenizer, true));
    EXPECT_EQ(hash, reference.at("pieces_fnv1a64").at("render_special").get<std::string>()) << "token pieces differ";
    std::snprintf(hash, sizeof hash, "%016llx", (unsigned long long)pieces_fnv1a64(tokenizer, false));
    EXPECT_EQ(hash, reference.at("pieces_fnv1a64").at("plain").get<std::string>()) << "token pieces differ";
    check_cases(tokenizer, reference.at("cases"));
}

TEST(TokenizerReference, SmolLm2) {
    ASSERT_TRUE(std::filesystem::exists(smollm2_path())) << "the default model is missing (scripts/setup fetches it): " << smollm2_path();
    check_reference(smollm2(), "tokenizer-smollm2.json");
}

TEST(TokenizerReference, Gemma3) {
    const std::string path = (paths::model_cache_dir() / "gemma-3-270m-q4_k_m.gguf").string();
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (scripts/setup and scripts/test download it)";
    check_reference(load_cached(path), "tokenizer-gemma3.json");
}

TEST(TokenizerReference, Stories260K) { check_reference(stories260k(), "tokenizer-stories260k.json"); }
TEST(TokenizerReference, LlamaSpm) { check_reference(llama_spm(), "tokenizer-llama-spm.json"); }
TEST(TokenizerReference, Gpt2) { check_reference(gpt2(), "tokenizer-gpt2.json"); }

// The GPT-2 vocabulary under another family's pre-tokenizer, as the generator wrote it.
Tokenizer gpt2_with_pre(const std::string& pre) {
    const GgufFile source = GgufFile::open(data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    GgufWriter writer;
    for (const auto& [key, value] : source.metadata()) {
        if (key != "general.alignment") writer.set(key, value);
    }
    writer.set("tokenizer.ggml.pre", GgufValue{pre});
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("natter-gpt2-" + pre + "-" + std::to_string(::getpid()) + ".gguf")).string();
    writer.write(path);
    Tokenizer tokenizer = Tokenizer::from_gguf(GgufFile::open(path));
    std::filesystem::remove(path);
    return tokenizer;
}

class PreTokenizerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(PreTokenizerReference, MatchesLlamaCpp) {
    check_reference(gpt2_with_pre(GetParam()), "tokenizer-gpt2-" + GetParam() + ".json", 250);
}

INSTANTIATE_TEST_SUITE_P(Families, PreTokenizerReference,
                         ::testing::Values("llama-bpe", "qwen2", "qwen35", "default", "falcon",
                                           "deepseek-coder", "starcoder"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             return name;
                         });

}  // namespace
}  // namespace natter::test
