// The vocabulary test vectors llama.cpp ships (tests/data/tokenizer): each input must give
// exactly the recorded ids (no BOS, special-token text treated as plain text).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tokenizer_fixtures.h"

namespace natter::test {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << path;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct VocabCase {
    std::string text;
    std::vector<int32_t> ids;
};

std::vector<VocabCase> load_cases(const std::string& vocab_file) {
    const std::string inputs = read_file(data_path("tokenizer/" + vocab_file + ".inp"));
    std::istringstream outputs(read_file(data_path("tokenizer/" + vocab_file + ".out")));
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::vector<VocabCase> cases;
    size_t start = 0;
    for (std::string line; std::getline(outputs, line);) {
        const size_t end = inputs.find(separator, start);
        if (end == std::string::npos) break;
        VocabCase c{inputs.substr(start, end - start), {}};
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) c.ids.push_back(id);
        cases.push_back(std::move(c));
        start = end + separator.size();
    }
    return cases;
}

void check_vectors(const Tokenizer& tokenizer, const std::string& vocab_file) {
    const std::vector<VocabCase> cases = load_cases(vocab_file);
    ASSERT_GE(cases.size(), 40u) << "too few cases parsed from " << vocab_file;
    for (const VocabCase& c : cases) {
        EXPECT_EQ(tokenizer.tokenize(c.text, false, false), c.ids) << "input: \"" << c.text << "\"";
    }
}

TEST(TokenizerVectors, LlamaSpm) { check_vectors(llama_spm(), "ggml-vocab-llama-spm.gguf"); }

TEST(TokenizerVectors, Gpt2) { check_vectors(gpt2(), "ggml-vocab-gpt-2.gguf"); }

}  // namespace
}  // namespace natter::test
