// Tiny hand-made vocabularies written to GGUF, where every expected id follows from the
// merge rules by hand: merge order by rank (BPE) and by score (SentencePiece), byte
// fallback, special-token matching, and the loader's errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "inference/gguf.h"
#include "inference/tokenizer.h"

namespace natter {
namespace {

GgufValue strings(std::vector<std::string> items) {
    GgufArray array{GgufType::STRING, {}};
    for (std::string& s : items) array.items.push_back(GgufValue{std::move(s)});
    return GgufValue{std::move(array)};
}

template <class T>
GgufValue numbers(GgufType type, std::vector<T> items) {
    GgufArray array{type, {}};
    for (T v : items) array.items.push_back(GgufValue{v});
    return GgufValue{std::move(array)};
}

Tokenizer load(const GgufWriter& writer) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("natter-toy-vocab-" + std::to_string(::getpid()) + ".gguf")).string();
    writer.write(path);
    Tokenizer tokenizer = Tokenizer::from_gguf(GgufFile::open(path));
    std::filesystem::remove(path);
    return tokenizer;
}

// Byte-level BPE over "abc": tokens a b c ab bc abc <|end|> Ġ <|user|>, merges as given.
GgufWriter bpe_writer(std::vector<std::string> merges) {
    GgufWriter w;
    w.set("tokenizer.ggml.model", GgufValue{std::string("gpt2")});
    w.set("tokenizer.ggml.pre", GgufValue{std::string("gpt-2")});
    w.set("tokenizer.ggml.tokens", strings({"a", "b", "c", "ab", "bc", "abc", "<|end|>", "Ġ", "<|user|>"}));
    w.set("tokenizer.ggml.token_type", numbers<int32_t>(GgufType::INT32, {1, 1, 1, 1, 1, 1, 3, 1, 4}));
    w.set("tokenizer.ggml.merges", strings(std::move(merges)));
    w.set("tokenizer.ggml.eos_token_id", GgufValue{uint32_t(6)});
    return w;
}

TEST(ToyBpe, LowestRankMergesFirst) {
    // "b c" outranks "a b": a + bc, then "a bc" -> abc.
    EXPECT_EQ(load(bpe_writer({"b c", "a b", "a bc"})).tokenize("abc", false, false), (std::vector<int32_t>{5}));
    // "a b" first: ab + c, and no rule joins those.
    EXPECT_EQ(load(bpe_writer({"a b", "b c", "a bc"})).tokenize("abc", false, false), (std::vector<int32_t>{3, 2}));
}

TEST(ToyBpe, SpecialTokensAndSpaces) {
    const Tokenizer t = load(bpe_writer({"b c"}));
    EXPECT_EQ(t.tokenize("a<|end|>bc", false, true), (std::vector<int32_t>{0, 6, 4}));
    EXPECT_EQ(t.tokenize("a bc", false, false), (std::vector<int32_t>{0, 7, 4}));  // " bc" -> Ġ + bc
    EXPECT_EQ(t.token_to_piece(7, false), " ");
    EXPECT_EQ(t.eos(), 6);
    EXPECT_TRUE(t.is_eog(6));
    EXPECT_FALSE(t.add_bos());  // gpt2 vocabularies add no BOS unless asked
}

TEST(ToyBpe, UserDefinedTokensAreAlwaysRecognisedAndShown) {
    const Tokenizer t = load(bpe_writer({"b c"}));
    EXPECT_EQ(t.attr(8), TokenAttr::UserDefined);
    EXPECT_EQ(t.tokenize("a<|user|>a", false, false), (std::vector<int32_t>{0, 8, 0}));
    EXPECT_EQ(t.token_to_piece(8, false), "<|user|>");
    // A control token is only text without parse_special; this vocabulary cannot spell
    // "<|end|>" at all, so only the "a" remains.
    EXPECT_EQ(t.tokenize("a<|end|>", false, false), (std::vector<int32_t>{0}));
}

TEST(ToyBpe, Phi3SpecialTokensSwallowFollowingWhitespace) {
    GgufWriter phi3 = bpe_writer({"b c"});
    EXPECT_EQ(load(phi3).tokenize("a<|end|>  a", false, true), (std::vector<int32_t>{0, 6, 7, 7, 0}));
    phi3.set("general.name", GgufValue{std::string("Phi-3 mini")});
    EXPECT_EQ(load(phi3).tokenize("a<|end|>  a", false, true), (std::vector<int32_t>{0, 6, 0}));
}

// SentencePiece over "▁ab": scores decide; bytes fall back to <0xNN>. Extra tokens come
// right after "▁a" (id 10 on), before the byte tokens.
GgufWriter spm_writer(float score_ab, float score_bc, std::vector<std::string> extra = {}) {
    GgufWriter w;
    w.set("tokenizer.ggml.model", GgufValue{std::string("llama")});
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "▁", "a", "b", "c", "ab", "bc", "▁a"};
    std::vector<float> scores = {0, 0, 0, -1, -1, -1, -1, score_ab, score_bc, -5};
    std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    for (std::string& t : extra) {
        tokens.push_back(std::move(t));
        scores.push_back(-0.5f);
        types.push_back(1);
    }
    for (int b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        tokens.push_back(hex);
        scores.push_back(0);
        types.push_back(6);
    }
    w.set("tokenizer.ggml.tokens", strings(tokens));
    w.set("tokenizer.ggml.scores", numbers<float>(GgufType::FLOAT32, scores));
    w.set("tokenizer.ggml.token_type", numbers<int32_t>(GgufType::INT32, types));
    return w;
}

constexpr int32_t kByte0 = 10;  // id of <0x00> without extra tokens

TEST(ToySpm, HighestScoreMergesFirst) {
    // "▁abc": the prefix space joins "a" only after "ab"/"bc" are settled.
    EXPECT_EQ(load(spm_writer(-2, -3)).tokenize("abc", false, false), (std::vector<int32_t>{3, 7, 6}));
    EXPECT_EQ(load(spm_writer(-3, -2)).tokenize("abc", false, false), (std::vector<int32_t>{9, 8}));
}

TEST(ToySpm, TokensSpanningSpacesStillMerge) {
    // With a token that has "▁" inside, the text cannot be cut into words before merging.
    const Tokenizer t = load(spm_writer(-2, -3, {"b▁", "b▁c"}));
    const int32_t b_space_c = 11;
    EXPECT_EQ(t.tokenize("b c", false, false), (std::vector<int32_t>{3, b_space_c}));
    const Tokenizer words = load(spm_writer(-2, -3));
    EXPECT_EQ(words.tokenize("b c", false, false), (std::vector<int32_t>{3, 5, 3, 6}));
}

TEST(ToySpm, BosPrefixSpaceAndByteFallback) {
    const Tokenizer t = load(spm_writer(-2, -3));
    EXPECT_TRUE(t.add_bos());  // SentencePiece vocabularies add BOS by default
    EXPECT_EQ(t.tokenize("a", true, false), (std::vector<int32_t>{1, 9}));
    EXPECT_EQ(t.tokenize("é", false, false), (std::vector<int32_t>{3, kByte0 + 0xC3, kByte0 + 0xA9}));
    EXPECT_EQ(t.detokenize(t.tokenize("é ab", false, false), false), "é ab");
    EXPECT_EQ(t.token_to_piece(kByte0 + 0x41, false), "A");
    EXPECT_EQ(t.attr(kByte0), TokenAttr::Byte);
    EXPECT_EQ(t.attr(0), TokenAttr::Unknown);
    // <s> is control: only recognised with parse_special; the text after it gets the space.
    EXPECT_EQ(t.tokenize("<s>a", false, true), (std::vector<int32_t>{1, 9}));
    EXPECT_NE(t.tokenize("<s>a", false, false).at(1), 1);
}

TEST(ToyVocabErrors, ClearMessages) {
    GgufWriter no_model = bpe_writer({"a b"});
    no_model.remove("tokenizer.ggml.model");
    EXPECT_THROW(load(no_model), Error);

    GgufWriter t5 = bpe_writer({"a b"});
    t5.set("tokenizer.ggml.model", GgufValue{std::string("t5")});
    EXPECT_THROW(load(t5), Error);

    GgufWriter unknown_pre = bpe_writer({"a b"});
    unknown_pre.set("tokenizer.ggml.pre", GgufValue{std::string("no-such-pre")});
    EXPECT_THROW(load(unknown_pre), Error);

    GgufWriter no_merges = bpe_writer({"a b"});
    no_merges.remove("tokenizer.ggml.merges");
    EXPECT_THROW(load(no_merges), Error);

    GgufWriter short_types = bpe_writer({"a b"});
    short_types.set("tokenizer.ggml.token_type", numbers<int32_t>(GgufType::INT32, {1, 1}));
    EXPECT_THROW(load(short_types), Error);

    GgufWriter short_scores = spm_writer(-2, -3);
    short_scores.set("tokenizer.ggml.scores", numbers<float>(GgufType::FLOAT32, {0, 0}));
    EXPECT_THROW(load(short_scores), Error);

    const Tokenizer ok = load(bpe_writer({"a b"}));
    EXPECT_THROW(ok.token_to_piece(9, false), Error);
    EXPECT_THROW(ok.token_text(-1), Error);
}

}  // namespace
}  // namespace natter
