// Behaviour on the real vocabularies: special tokens of the default model, decoding round
// trips, streaming pieces without splitting characters, and speed on long inputs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "inference/unicode.h"
#include "tokenizer_fixtures.h"

namespace natter::test {
namespace {

class SmolLm2 : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(smollm2_path())) << "the default model is missing (scripts/setup fetches it): " << smollm2_path();
    }
    const Tokenizer& tok() { return smollm2(); }
};

TEST_F(SmolLm2, SpecialTokens) {
    EXPECT_EQ(tok().find_token("<|im_start|>"), 1);
    EXPECT_EQ(tok().find_token("<|im_end|>"), 2);
    EXPECT_EQ(tok().find_token("<|endoftext|>"), 0);
    EXPECT_FALSE(tok().find_token("<|no such token|>").has_value());
    EXPECT_EQ(tok().attr(2), TokenAttr::Control);
    EXPECT_EQ(tok().attr(1000), TokenAttr::Normal);
    EXPECT_EQ(tok().token_text(2), "<|im_end|>");
    EXPECT_EQ(tok().token_to_piece(2, false), "");
    EXPECT_EQ(tok().token_to_piece(2, true), "<|im_end|>");
    EXPECT_FALSE(tok().add_bos());
}

TEST_F(SmolLm2, EndOfGeneration) {
    // llama.cpp: <|im_end|> is EOS and an end-of-turn text, <|endoftext|> an end-of-turn
    // text, <reponame> a FIM repository token; all three end generation.
    EXPECT_TRUE(tok().is_eog(2));
    EXPECT_TRUE(tok().is_eog(0));
    EXPECT_TRUE(tok().is_eog(4));
    EXPECT_FALSE(tok().is_eog(1));
    EXPECT_FALSE(tok().is_eog(-1));
    EXPECT_EQ(tok().eos(), 2);
    // Both <|im_end|> and <|endoftext|> qualify as EOT; llama.cpp takes whichever its hash
    // map yields first (0 in its build). We take the first in its candidate list: ChatML's.
    EXPECT_EQ(tok().eot(), 2);
}

TEST_F(SmolLm2, ChatTemplateTextWithAndWithoutSpecialParsing) {
    const std::string text = "<|im_start|>user\nHi<|im_end|>\n";
    const std::vector<int32_t> parsed = tok().tokenize(text, true, true);
    ASSERT_GE(parsed.size(), 4u);
    EXPECT_EQ(parsed.front(), 1);
    EXPECT_EQ(parsed[parsed.size() - 2], 2);
    const std::vector<int32_t> plain = tok().tokenize(text, true, false);
    for (int32_t id : plain) EXPECT_GT(id, 16) << "a special token was recognised without parse_special";
    EXPECT_EQ(tok().detokenize(parsed, true), text);
    EXPECT_EQ(tok().detokenize(plain, false), text);
    EXPECT_EQ(tok().detokenize(parsed, false), "user\nHi\n");
}

TEST_F(SmolLm2, RoundTripsValidText) {
    for (const char* text : {"Hello world", "  leading and trailing  ", "你好，世界！", "こんにちは",
                             "def f(x):\n\treturn x  # ok\n", "😀👍🏽👨‍👩‍👧‍👦", "1234567 3.14", "I'M we'll",
                             "\n\n\t \r\n", "ﬁ ｱ é Ω ∑"}) {
        EXPECT_EQ(tok().detokenize(tok().tokenize(text, false, false), false), text);
    }
}

TEST_F(SmolLm2, MalformedInputDecodesToReplacementCharacters) {
    const std::vector<int32_t> ids = tok().tokenize("ab\xFF" "cd\xE4\xB8", false, false);
    EXPECT_EQ(tok().detokenize(ids, false), "ab\uFFFD" "cd\uFFFD\uFFFD");
}

TEST_F(SmolLm2, StreamedPiecesNeverSplitACharacter) {
    const std::string text = "emoji 👨‍👩‍👧‍👦🇯🇵 and 中文字符 and ｱｲｳ";
    const std::vector<int32_t> ids = tok().tokenize(text, false, false);
    Utf8Stream stream;
    std::string joined;
    int partial_pieces = 0;
    for (int32_t id : ids) {
        const std::string piece = tok().token_to_piece(id, false);
        partial_pieces += !unicode::is_valid_utf8(piece);
        const std::string out = stream.push(piece);
        EXPECT_TRUE(unicode::is_valid_utf8(out));
        joined += out;
    }
    joined += stream.flush();
    EXPECT_EQ(joined, text);
    EXPECT_GT(partial_pieces, 0) << "no token split a character, so this test proves nothing";
}

TEST(Stories260K, SentencePieceBasics) {
    const Tokenizer& t = stories260k();
    EXPECT_EQ(t.n_vocab(), 512);
    EXPECT_TRUE(t.add_bos());
    EXPECT_EQ(t.bos(), 1);
    EXPECT_EQ(t.eos(), 2);
    EXPECT_TRUE(t.is_eog(2));
    EXPECT_EQ(t.attr(3), TokenAttr::Byte);  // <0x00>
    const std::vector<int32_t> ids = t.tokenize("Once upon a time", true, false);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(t.detokenize(std::span(ids).subspan(1), false), "Once upon a time");
    // "中" is not in this 512-token vocabulary: its three bytes fall back to <0xE4><0xB8><0xAD>.
    const std::vector<int32_t> han = t.tokenize("中", false, false);
    ASSERT_EQ(han.size(), 4u);
    EXPECT_EQ(t.token_text(han[0]), "▁");
    EXPECT_EQ(std::vector<int32_t>(han.begin() + 1, han.end()), (std::vector<int32_t>{3 + 0xE4, 3 + 0xB8, 3 + 0xAD}));
    EXPECT_EQ(t.detokenize(han, false), "中");
}

std::vector<std::pair<const Tokenizer*, bool>> all_vocabularies() {  // (tokenizer, byte-level BPE)
    return {{&gpt2(), true}, {&llama_spm(), false}, {&stories260k(), false}, {&smollm2(), true}};
}

// Random text from many scripts (and no C0 controls, which SmolLM2's vocabulary cannot
// spell): decoding gives it back exactly.
TEST(TokenizerRobustness, RandomTextRoundTrips) {
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x20, 0x7E}, {'\t', '\n'}, {0xA0, 0x24F}, {0x370, 0x52F}, {0x3040, 0x30FF}, {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, {0x2000, 0x206F}, {0x1F300, 0x1F64F}, {0xFF00, 0xFFEF}};
    std::mt19937 rng(1234);
    for (int round = 0; round < 300; ++round) {
        std::string text;
        for (size_t n = rng() % 30; n > 0; --n) {
            const auto& [lo, hi] = ranges[rng() % ranges.size()];
            unicode::append_utf8(text, lo + char32_t(rng() % (hi - lo + 1)));
        }
        for (const auto& [tokenizer, byte_level] : all_vocabularies()) {
            EXPECT_EQ(tokenizer->detokenize(tokenizer->tokenize(text, false, false), false), text)
                << "vocabulary of " << tokenizer->n_vocab() << " tokens";
        }
    }
}

// Random bytes: nothing breaks and ids stay in range. GPT-2's vocabulary spells every
// byte, so it decodes to the input as llama.cpp reads it: each malformed byte a U+FFFD
// (overlong forms and surrogates pass, llama.cpp's decoder does not check those).
TEST(TokenizerRobustness, RandomBytes) {
    std::mt19937 rng(99);
    for (int round = 0; round < 300; ++round) {
        std::string bytes(rng() % 40, '\0');
        for (char& c : bytes) c = char(rng() % 256);
        for (const auto& [tokenizer, byte_level] : all_vocabularies()) {
            const std::vector<int32_t> ids = tokenizer->tokenize(bytes, true, true);
            for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tokenizer->n_vocab());
        }
        std::string repaired;
        for (char32_t c : unicode::decode_utf8(bytes)) unicode::append_utf8(repaired, c);
        EXPECT_EQ(gpt2().detokenize(gpt2().tokenize(bytes, false, false), false), repaired);
    }
}

// A few MB/s at least, and no quadratic corner: long mixed text and long runs of one class.
TEST(TokenizerSpeed, HundredKilobyteInputs) {
    std::string mixed;
    while (mixed.size() < 100'000) mixed += "The quick brown fox, 1234 jumps!\n\t你好 世界 😀 x=y+1;  ";
    std::vector<std::pair<const Tokenizer*, std::string>> runs = {
        {&gpt2(), mixed}, {&llama_spm(), mixed}, {&stories260k(), mixed},
        {&gpt2(), std::string(100'000, 'a')}, {&llama_spm(), std::string(100'000, 'a')},
        {&gpt2(), std::string(100'000, ' ')}, {&llama_spm(), std::string(100'000, ' ')},
        {&smollm2(), mixed}, {&smollm2(), std::string(100'000, '7')},
    };
    for (const auto& [tokenizer, text] : runs) {
        const auto start = std::chrono::steady_clock::now();
        const std::vector<int32_t> ids = tokenizer->tokenize(text, false, true);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_FALSE(ids.empty());
        EXPECT_LT(seconds, 1.0) << "100 KB took " << seconds << " s (vocabulary of " << tokenizer->n_vocab() << ")";
    }
}

}  // namespace
}  // namespace natter::test
