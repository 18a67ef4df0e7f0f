// A full context window: old turns leave the model's view (the system prompt and --keep's
// tokens stay), the current turn is never lost, nothing crashes.
#include <gtest/gtest.h>

#include <algorithm>

#include "session/session_impl.h"
#include "core/error.h"
#include "session_test_util.h"

namespace natter {
namespace {

using test::greedy_options;
using test::say;
using test::Turn;

class ContextWindow : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::stories_path());
        ASSERT_TRUE(model_);
    }
    std::unique_ptr<Session> make(int n_ctx, int max_tokens, int keep = 0) {
        SessionOptions o = greedy_options(max_tokens, n_ctx);
        o.template_name = "chatml";
        o.system_prompt = "You tell stories.";
        o.keep = keep;
        return std::make_unique<Session>(model_, o);
    }
    // Tokens of the rendered system prompt (BOS included): the part that always stays.
    int system_tokens() const {
        return static_cast<int>(model_->tokenizer().tokenize("<|im_start|>system\nYou tell stories.<|im_end|>\n", true, true).size());
    }
    std::shared_ptr<const Model> model_;
};

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

TEST_F(ContextWindow, OldTurnsAreDroppedAndTheSystemPromptStays) {
    auto s = make(128, 8);
    bool dropped_notice = false;
    for (int i = 1; i <= 8; ++i) {
        const Turn t = say(*s, "turn" + std::to_string(i) + " tell me about a cat");
        ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << "turn " << i << ": " << t.last.text;
        for (const auto& e : t.events) {
            if (e.kind != SessionEvent::Kind::Notice || !contains(e.text, "left the model's view")) continue;
            dropped_notice = true;
            // The notice is about this reply: what the model sees now, counted from the messages.
            const auto msgs = s->messages();
            const long seen = std::count_if(msgs.begin(), msgs.end() - 1, [](const Message& m) { return m.in_context; });
            EXPECT_TRUE(contains(e.text, "for this reply it sees " + std::to_string(seen) + " of the chat's " +
                                             std::to_string(msgs.size() - 1) + " messages"))
                << "turn " << i << ": " << e.text;
        }
        EXPECT_LE(s->context().used, 128);
    }
    EXPECT_TRUE(dropped_notice);
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 16u);  // the transcript keeps everything
    EXPECT_FALSE(msgs[0].in_context);
    EXPECT_TRUE(msgs[14].in_context);
    EXPECT_TRUE(msgs[15].in_context);
    // Whole exchanges go: a user message and its reply leave together.
    for (size_t i = 0; i + 1 < msgs.size(); i += 2) EXPECT_EQ(msgs[i].in_context, msgs[i + 1].in_context) << i;

    const std::string prompt = s->prompt_text();
    EXPECT_EQ(prompt.rfind("<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\n", 0), 0u) << prompt;
    EXPECT_FALSE(contains(prompt, "turn1 "));
    EXPECT_TRUE(contains(prompt, "turn8 tell me about a cat"));
    // The cache starts with the system prompt's tokens (BOS first).
    const auto& tok = model_->tokenizer();
    const auto sys = tok.tokenize("<|im_start|>system\nYou tell stories.<|im_end|>\n", true, true);
    const auto ctx = s->context_tokens();
    ASSERT_GE(ctx.size(), sys.size());
    EXPECT_TRUE(std::equal(sys.begin(), sys.end(), ctx.begin()));
}

TEST_F(ContextWindow, KeepProtectsTheFirstMessages) {
    // Enough --keep tokens to reach into the first user message: it and nothing after it is pinned.
    auto s = make(256, 8, system_tokens() + 3);
    for (int i = 1; i <= 8; ++i) {
        const Turn t = say(*s, "turn" + std::to_string(i) + " tell me about a dog");
        ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << t.last.text;
    }
    const auto msgs = s->messages();
    EXPECT_TRUE(msgs[0].in_context);   // pinned by --keep
    EXPECT_FALSE(msgs[2].in_context);  // the oldest unpinned exchange went
    EXPECT_TRUE(msgs[15].in_context);
    const std::string prompt = s->prompt_text();
    EXPECT_TRUE(contains(prompt, "turn1 tell me about a dog"));
    EXPECT_FALSE(contains(prompt, "turn2 "));
    EXPECT_TRUE(contains(prompt, "turn8 "));
}

TEST_F(ContextWindow, KeepLargerThanTheContextGivesWayRatherThanFail) {
    auto s = make(128, 8, 100000);
    for (int i = 1; i <= 4; ++i) {
        const Turn t = say(*s, "turn" + std::to_string(i) + " a fox");
        ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << "turn " << i << ": " << t.last.text;
    }
    const auto msgs = s->messages();
    EXPECT_FALSE(msgs[0].in_context);
    EXPECT_TRUE(msgs[6].in_context);
    EXPECT_LE(s->context().used, 128);
}

TEST_F(ContextWindow, ReplyThatFillsTheContextMovesTheWindowThenStops) {
    auto s = make(96, 6);
    say(*s, "first question about a bird");
    s->set("max-tokens", "-1");
    const Turn t = say(*s, "Once upon a time there was a big tree");
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 4u);
    // Greedy decoding: the same reply every run, and it is long enough to fill the window.
    ASSERT_FALSE(t.last.reason == StopReason::EndOfText && s->context().used < 90)
        << "the model ended its reply before the context filled: the test needs a longer reply";
    // The first exchange made room for the reply, which went on until it alone filled the
    // window; the current turn was kept throughout.
    EXPECT_EQ(t.last.reason, StopReason::ContextFull) << stop_reason_name(t.last.reason);
    EXPECT_FALSE(msgs[0].in_context);
    EXPECT_TRUE(msgs[2].in_context);
    EXPECT_FALSE(msgs[3].interrupted);
    EXPECT_EQ(s->context().used, 96);  // full: the last token sampled had no room
    EXPECT_TRUE(contains(s->prompt_text(), "Once upon a time there was a big tree"));
}

TEST_F(ContextWindow, ChatContinuesAfterTheReplyFilledTheContext) {
    auto s = make(128, -1);
    const Turn first = say(*s, "Once upon a time");
    ASSERT_EQ(first.last.reason, StopReason::ContextFull) << "the first reply ended before the context filled";
    const Turn t = say(*s, "more");
    EXPECT_EQ(t.last.kind, SessionEvent::Kind::Finished) << t.last.text;
    EXPECT_NE(t.last.reason, StopReason::Error);
    EXPECT_FALSE(s->messages()[0].in_context);
    EXPECT_LE(s->context().used, 128);
}

}  // namespace
}  // namespace natter
