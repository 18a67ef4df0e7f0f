// A multi-turn conversation on the default model (SmolLM2-135M-Instruct, chatml, byte-level
// BPE): template detection, replies equal to greedy decoding from scratch, KV reuse, EOS.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/paths.h"
#include "session/session_impl.h"
#include "inference/forward.h"
#include "inference/unicode.h"
#include "session_test_util.h"

namespace natter {
namespace {

using test::greedy_options;
using test::say;
using test::Turn;

class SmolLM : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::smollm_path());
        ASSERT_TRUE(model_) << "the default model is missing (scripts/setup fetches it): " << test::smollm_path();
    }
    std::vector<int32_t> greedy_reference(const std::vector<int32_t>& prompt, int n) const {
        return test::greedy_reference(*model_, prompt, n);
    }
    std::string text_of(const std::vector<int32_t>& ids) const { return test::reply_text(*model_, ids); }
    std::shared_ptr<const Model> model_;
};

TEST_F(SmolLM, DetectsChatmlAndDescribesTheModel) {
    Session s(model_, greedy_options(4));
    EXPECT_EQ(s.template_name(), "chatml");
    EXPECT_EQ(s.quant_type(), "Q4_1");
    EXPECT_NE(s.model_name().find("Smollm2"), std::string::npos) << s.model_name();
}

// Byte-level BPE splits a Chinese character over tokens: a reply cut by -n after the first of
// them is stored (and streamed) as valid UTF-8, the unfinished character as one U+FFFD.
TEST_F(SmolLM, AReplyCutInsideACharacterKeepsNoBrokenByte) {
    const std::string message = "\u4f60\u597d\uff0c\u8bf7\u4ecb\u7ecd\u4e00\u4e0b\u4f60\u81ea\u5df1\u3002";  // 你好，请介绍一下你自己。
    const auto prompt = model_->tokenizer().tokenize(
        "<|im_start|>user\n" + message + "<|im_end|>\n<|im_start|>assistant\n", true, true);
    const std::vector<int32_t> ref = greedy_reference(prompt, 24);
    int cut = 0;  // the first length at which the reply's bytes end inside a character
    for (int k = 1; k <= static_cast<int>(ref.size()) && cut == 0; ++k) {
        if (!unicode::is_valid_utf8(text_of({ref.begin(), ref.begin() + k}))) cut = k;
    }
    ASSERT_GT(cut, 0) << "the greedy reply never splits a character in 24 tokens: " << text_of(ref);
    // What comes before the unfinished character, then U+FFFD in its place.
    std::string bytes = text_of({ref.begin(), ref.begin() + cut});
    size_t complete = bytes.size();
    while (complete > 0 && !unicode::is_valid_utf8(bytes.substr(0, complete))) --complete;

    Session s(model_, greedy_options(cut));
    const Turn t = say(s, message);
    ASSERT_EQ(t.last.reason, StopReason::MaxTokens);
    const std::string stored = s.messages()[1].text;
    EXPECT_TRUE(unicode::is_valid_utf8(stored));
    EXPECT_EQ(stored, bytes.substr(0, complete) + "\uFFFD");
    EXPECT_EQ(t.streamed, stored);
}

// Gemma 3 270M (the base model) has no tokenizer.chat_template: the family's format, not chatml.
TEST(GemmaSession, AGemmaWithoutATemplateGetsTheGemmaFormat) {
    const std::string path = (paths::model_cache_dir() / "gemma-3-270m-q4_k_m.gguf").string();
    const auto model = test::load_once(path);
    ASSERT_TRUE(model) << "missing " << path << " (natter pull gemma3-270m fetches it)";
    ASSERT_EQ(model->file().get_string("tokenizer.chat_template", ""), "");
    Session s(model, greedy_options(4));
    EXPECT_EQ(s.template_name(), "gemma");
    const Turn t = say(s, "Hi");
    ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << t.last.text;
    EXPECT_EQ(s.prompt_text().rfind("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", 0), 0u)
        << s.prompt_text();
}

TEST_F(SmolLM, TwoTurnsMatchGreedyDecodingAndReuseTheCache) {
    Session s(model_, greedy_options(8));
    const Turn t1 = say(s, "What is the capital of France?");
    ASSERT_EQ(t1.last.kind, SessionEvent::Kind::Finished) << t1.last.text;

    const std::string prompt1 = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    const auto tokens1 = model_->tokenizer().tokenize(prompt1, true, true);  // SmolLM adds no BOS
    ASSERT_EQ(tokens1.front(), *model_->tokenizer().find_token("<|im_start|>"));
    const auto ref1 = greedy_reference(tokens1, 8);
    auto msgs = s.messages();
    EXPECT_EQ(msgs[1].text, text_of(ref1));
    EXPECT_EQ(msgs[1].stats.prompt_evaluated, static_cast<int>(tokens1.size()));
    const auto cached1 = s.context_tokens();

    const Turn t2 = say(s, "And of Germany?");
    ASSERT_EQ(t2.last.kind, SessionEvent::Kind::Finished) << t2.last.text;
    msgs = s.messages();
    // Only what is new was evaluated: the first reply's unevaluated last token (if the reply
    // was cut by max tokens) plus the second turn's markup and text.
    std::string cached_reply;
    for (size_t i = tokens1.size(); i < cached1.size(); ++i) cached_reply += model_->tokenizer().token_to_piece(cached1[i], true);
    const std::string added = msgs[1].text.substr(cached_reply.size()) +
                              "<|im_end|>\n<|im_start|>user\nAnd of Germany?<|im_end|>\n<|im_start|>assistant\n";
    const auto added_tokens = model_->tokenizer().tokenize(added, false, true);
    EXPECT_EQ(msgs[3].stats.prompt_evaluated, static_cast<int>(added_tokens.size()));
    const auto ctx = s.context_tokens();
    ASSERT_GT(ctx.size(), cached1.size());
    EXPECT_TRUE(std::equal(cached1.begin(), cached1.end(), ctx.begin()));

    // The second reply is what greedy decoding of the whole second prompt from scratch gives.
    std::vector<int32_t> prompt2 = cached1;
    prompt2.insert(prompt2.end(), added_tokens.begin(), added_tokens.end());
    EXPECT_EQ(msgs[3].text, text_of(greedy_reference(prompt2, 8)));
}

TEST_F(SmolLM, EndOfTurnTokenEndsTheReplyAndIsNotShown) {
    Session s(model_, greedy_options(16));
    const Turn t = say(s, "What is 2+2?");  // greedy: "The answer is: 4" and <|im_end|>
    ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished);
    EXPECT_EQ(t.last.reason, StopReason::EndOfText) << s.messages()[1].text;
    EXPECT_EQ(s.messages()[1].text.find("<|im_end|>"), std::string::npos);
    EXPECT_EQ(s.messages()[1].text, "The answer is: 4");
    EXPECT_GT(t.last.stats.tokens_per_second(), 0.0);
    // The next turn starts right after the reply: the end token is written by the template.
    s.set("max-tokens", "2");
    say(s, "Thanks");
    const std::string p = s.prompt_text();
    EXPECT_NE(p.find(s.messages()[1].text + "<|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n"), std::string::npos);
}

}  // namespace
}  // namespace natter
