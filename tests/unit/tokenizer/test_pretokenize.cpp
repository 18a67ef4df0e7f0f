// Pre-tokenizer splits, checked against what each family's regex matches (worked out by
// hand from the regex; the same splits come out of Python's `regex` module on the
// original patterns).
#include <gtest/gtest.h>

#include <chrono>

#include "inference/pretokenize.h"

namespace natter {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view family, std::string_view text) {
    const auto config = pre_tokenizer_for(family);
    EXPECT_TRUE(config.has_value()) << family;
    return pre_tokenize(config->type, text);
}

TEST(PreTokenize, Gpt2WordsKeepTheirLeadingSpace) {
    EXPECT_EQ(split("gpt-2", "Hello world"), (Words{"Hello", " world"}));
    EXPECT_EQ(split("gpt-2", "a1 23!?"), (Words{"a", "1", " 23", "!?"}));
    EXPECT_EQ(split("gpt-2", ""), Words{});
}

TEST(PreTokenize, Gpt2ContractionsAreCaseSensitive) {
    EXPECT_EQ(split("gpt-2", "I'm you'RE"), (Words{"I", "'m", " you", "'", "RE"}));
    EXPECT_EQ(split("gpt-2", "we'll'd"), (Words{"we", "'ll", "'d"}));
}

TEST(PreTokenize, Gpt2WhitespaceRunLeavesLastSpaceToNextWord) {
    // \s+(?!\S): a run followed by a word gives up its last space; at the end it does not.
    EXPECT_EQ(split("gpt-2", "a   b"), (Words{"a", "  ", " b"}));
    EXPECT_EQ(split("gpt-2", "a \t\nb"), (Words{"a", " \t", "\n", "b"}));
    EXPECT_EQ(split("gpt-2", "end   "), (Words{"end", "   "}));
    EXPECT_EQ(split("gpt-2", "\tx"), (Words{"\t", "x"}));
}

TEST(PreTokenize, SmollmIsolatesEveryDigitFirst) {
    EXPECT_EQ(split("smollm", "a 123"), (Words{"a", " ", "1", "2", "3"}));
    EXPECT_EQ(split("smollm", "x٣y"), (Words{"x", "٣", "y"}));  // U+0663 is \p{N}
    EXPECT_EQ(split("starcoder", "v2.0"), split("smollm", "v2.0"));
}

TEST(PreTokenize, Llama3GroupsDigitsByThree) {
    EXPECT_EQ(split("llama-bpe", "12345678"), (Words{"123", "456", "78"}));
    EXPECT_EQ(split("llama-bpe", "a+b=12345 x"), (Words{"a", "+b", "=", "123", "45", " x"}));
}

TEST(PreTokenize, Llama3ContractionsIgnoreCase) {
    EXPECT_EQ(split("llama-bpe", "I'M HE'LL"), (Words{"I", "'M", " HE", "'LL"}));
}

TEST(PreTokenize, Llama3NewlinesAndPunctuation) {
    // \s*[\r\n]+ takes whitespace up to the last newline; punctuation keeps trailing newlines.
    EXPECT_EQ(split("llama-bpe", "x  \n\n y"), (Words{"x", "  \n\n", " y"}));
    EXPECT_EQ(split("llama-bpe", "ok!!\n\nNext"), (Words{"ok", "!!\n\n", "Next"}));
    EXPECT_EQ(split("llama-bpe", "(hello"), (Words{"(hello"}));
}

TEST(PreTokenize, Qwen2SplitsSingleDigits) {
    EXPECT_EQ(split("qwen2", "x 2024"), (Words{"x", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenize, Qwen35CountsMarksAsLetters) {
    const std::string text = "cafe\u0301!";  // e + combining acute
    EXPECT_EQ(split("qwen35", text), (Words{"cafe\u0301", "!"}));
    EXPECT_EQ(split("qwen2", text), (Words{"cafe", "\u0301!"}));
}

TEST(PreTokenize, DefaultAndFalconSplitPunctuationAndThreeDigitGroups) {
    EXPECT_EQ(split("default", "a+b=12345 x"), (Words{"a", "+", "b", "=", "123", "45", " x"}));
    EXPECT_EQ(split("default", "1234`x"), (Words{"123", "4", "`", "x"}));
    // Falcon counts the backtick as punctuation, so it joins the run after it.
    EXPECT_EQ(split("falcon", "a`.b"), (Words{"a", "`.", "b"}));
    EXPECT_EQ(split("default", "a`.b"), (Words{"a", "`", ".", "b"}));
}

TEST(PreTokenize, DeepseekCoder) {
    EXPECT_EQ(split("deepseek-coder", "Hi you\n42"), (Words{"Hi", " you", "\n", "4", "2"}));
}

TEST(PreTokenize, MalformedUtf8BecomesReplacementCharacter) {
    EXPECT_EQ(split("gpt-2", "a\xFF" "b"), (Words{"a", "\uFFFD", "b"}));
    EXPECT_EQ(split("llama-bpe", "a\xFF" "b"), (Words{"a", "\uFFFDb"}));
}

TEST(PreTokenize, UnknownFamilyIsNotSupported) {
    EXPECT_FALSE(pre_tokenizer_for("no-such-family").has_value());
    ASSERT_TRUE(pre_tokenizer_for("llama-bpe").has_value());
    EXPECT_TRUE(pre_tokenizer_for("llama-bpe")->ignore_merges);
    EXPECT_TRUE(pre_tokenizer_for("llama-bpe")->add_bos);
    EXPECT_FALSE(pre_tokenizer_for("smollm")->add_bos);
}

TEST(PreTokenize, LinearOnLongInputs) {
    // Long runs of one class are where a careless splitter goes quadratic.
    for (std::string_view family : {"gpt-2", "smollm", "llama-bpe", "qwen2", "default"}) {
        for (char c : {' ', 'a', '7', '!', '\n'}) {
            const std::string text(200'000, c);
            const auto start = std::chrono::steady_clock::now();
            const Words words = split(family, text);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            size_t total = 0;
            for (const std::string& w : words) total += w.size();
            EXPECT_EQ(total, text.size()) << family;
            EXPECT_LT(seconds, 0.5) << family << " on a run of '" << c << "'";
        }
    }
}

}  // namespace
}  // namespace natter
