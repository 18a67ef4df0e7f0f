// The session on the tiny stories260K model (fast): prompts, KV reuse, stops, cancellation,
// regenerate / undo / edit, settings and transcripts of a live session.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "session/chat_commands.h"
#include "session/session_impl.h"
#include "core/error.h"
#include "inference/forward.h"
#include "session_test_util.h"

namespace natter {
namespace {

using test::finish_turn;
using test::greedy_options;
using test::say;
using test::TempDir;
using test::Turn;

class StoriesSession : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::stories_path());
        ASSERT_TRUE(model_) << "missing " << test::stories_path();
    }
    std::unique_ptr<Session> make(SessionOptions o) {
        if (o.template_name.empty()) o.template_name = "chatml";
        return std::make_unique<Session>(model_, o);
    }
    std::vector<int32_t> greedy_reference(const std::vector<int32_t>& prompt, int n) {
        return test::greedy_reference(*model_, prompt, n);
    }
    const Tokenizer& tok() const { return model_->tokenizer(); }
    std::shared_ptr<const Model> model_;
};

TEST_F(StoriesSession, FirstReplyIsGreedyDecodingOfTheRenderedPrompt) {
    auto s = make(greedy_options(12));
    const Turn t = say(*s, "Once upon a time");
    ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << t.last.text;

    const std::string prompt = "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n";
    const auto prompt_tokens = tok().tokenize(prompt, true, true);  // stories260K adds BOS
    ASSERT_EQ(prompt_tokens.front(), tok().bos());
    const auto expected = greedy_reference(prompt_tokens, 12);
    const std::string expected_text = test::reply_text(*model_, expected);
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[1].text, expected_text);
    EXPECT_EQ(t.streamed, expected_text);  // the events carry exactly the reply
    EXPECT_EQ(msgs[1].stats.completion_tokens, static_cast<int>(expected.size()));
    EXPECT_EQ(msgs[1].stats.prompt_tokens, static_cast<int>(prompt_tokens.size()));
    EXPECT_EQ(msgs[1].stats.prompt_evaluated, static_cast<int>(prompt_tokens.size()));
    EXPECT_EQ(msgs[1].stop_reason, tok().is_eog(expected.back()) ? StopReason::EndOfText : StopReason::MaxTokens);
    EXPECT_FALSE(msgs[1].interrupted);
    // The cache holds the prompt and every generated token but the last (never evaluated).
    std::vector<int32_t> cached = prompt_tokens;
    cached.insert(cached.end(), expected.begin(), expected.end() - 1);
    EXPECT_EQ(s->context_tokens(), cached);
    EXPECT_EQ(s->context().used, static_cast<int>(cached.size()));
    EXPECT_EQ(s->context().total, 512);
}

TEST_F(StoriesSession, EventsComeInOrder) {
    auto s = make(greedy_options(5));
    const Turn t = say(*s, "Hello");
    ASSERT_GE(t.events.size(), 3u);
    EXPECT_EQ(t.events.front().kind, SessionEvent::Kind::PromptProgress);
    const auto first = std::find_if(t.events.begin(), t.events.end(), [](const SessionEvent& e) { return e.kind == SessionEvent::Kind::FirstToken; });
    const auto text = std::find_if(t.events.begin(), t.events.end(), [](const SessionEvent& e) { return e.kind == SessionEvent::Kind::Text; });
    ASSERT_NE(first, t.events.end());
    EXPECT_LT(first - t.events.begin(), text - t.events.begin());
    EXPECT_GT(first->stats.ttft_ms, 0.0);
    const auto& progress = t.events.front();
    EXPECT_EQ(progress.done, progress.total);
    EXPECT_EQ(t.last.reason, StopReason::MaxTokens);
    EXPECT_EQ(t.last.stats.completion_tokens, 5);
    EXPECT_FALSE(s->busy());
}

TEST_F(StoriesSession, PromptProgressIsReportedPerBatch) {
    SessionOptions o = greedy_options(1);
    o.n_batch = 4;
    auto s = make(o);
    const Turn t = say(*s, "one two three four five six");
    std::vector<int> done;
    int total = 0;
    for (const auto& e : t.events) {
        if (e.kind != SessionEvent::Kind::PromptProgress) continue;
        done.push_back(e.done);
        total = e.total;
    }
    ASSERT_GT(total, 8);
    ASSERT_EQ(static_cast<int>(done.size()), (total + 3) / 4);
    for (size_t i = 0; i + 1 < done.size(); ++i) EXPECT_EQ(done[i], 4 * static_cast<int>(i + 1));
    EXPECT_EQ(done.back(), total);
}

TEST_F(StoriesSession, SecondTurnEvaluatesOnlyTheNewTokens) {
    auto s = make(greedy_options(6));
    say(*s, "Hi");
    const auto before = s->context_tokens();
    const std::string reply1 = s->messages()[1].text;
    const int n_prompt1 = s->messages()[1].stats.prompt_tokens;
    const Turn t = say(*s, "Tell me more");
    ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished);

    // The cache held the first prompt and every reply token but the last sampled one (never
    // evaluated); the new turn evaluates that token's text plus what the second turn adds.
    std::string cached_reply;
    for (size_t i = static_cast<size_t>(n_prompt1); i < before.size(); ++i) cached_reply += tok().token_to_piece(before[i], true);
    ASSERT_EQ(reply1.rfind(cached_reply, 0), 0u);
    const std::string added = reply1.substr(cached_reply.size()) +
                              "<|im_end|>\n<|im_start|>user\nTell me more<|im_end|>\n<|im_start|>assistant\n";
    const auto added_tokens = tokenize_prompt(tok(), *TemplateRegistry().find("chatml"), added, false);
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[3].stats.prompt_evaluated, static_cast<int>(added_tokens.size()));
    EXPECT_EQ(msgs[3].stats.prompt_tokens, static_cast<int>(before.size() + added_tokens.size()));
    EXPECT_EQ(msgs[3].stats.prompt_tokens - msgs[3].stats.prompt_evaluated, static_cast<int>(before.size()));
    // And the cache starts with exactly what it held after the first turn.
    const auto after = s->context_tokens();
    ASSERT_GT(after.size(), before.size());
    EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
    EXPECT_EQ(s->prompt_text(), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" + reply1 +
                                    "<|im_end|>\n<|im_start|>user\nTell me more<|im_end|>\n<|im_start|>assistant\n" +
                                    msgs[3].text + "<|im_end|>\n");
}

TEST_F(StoriesSession, ReusedCacheGivesTheSameReplyAsAFreshEvaluation) {
    auto s = make(greedy_options(8));
    say(*s, "The cat");
    say(*s, "The dog");
    const auto msgs = s->messages();
    // Evaluate the second turn's whole prompt from scratch and decode greedily.
    const auto ctx = s->context_tokens();
    const int n_reply = msgs[3].stats.completion_tokens;
    const std::vector<int32_t> prompt(ctx.begin(), ctx.end() - (n_reply - 1));
    const auto expected = greedy_reference(prompt, n_reply);
    std::vector<int32_t> got(ctx.end() - (n_reply - 1), ctx.end());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin()));
}

TEST_F(StoriesSession, RegenerateReusesThePromptAndIsDeterministicWhenGreedy) {
    auto s = make(greedy_options(6));
    say(*s, "A story");
    const std::string first = s->messages()[1].text;
    s->regenerate();
    const Turn t = finish_turn(*s);
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[1].text, first);
    EXPECT_EQ(msgs[1].stats.prompt_evaluated, 1);  // only the last prompt token, for its logits
    EXPECT_EQ(t.last.kind, SessionEvent::Kind::Finished);
}

TEST_F(StoriesSession, UndoAndEditLast) {
    auto s = make(greedy_options(3));
    say(*s, "first");
    say(*s, "second");
    EXPECT_EQ(s->last_user_text(), "second");
    EXPECT_EQ(s->undo(), "second");
    ASSERT_EQ(s->messages().size(), 2u);
    EXPECT_EQ(s->messages()[0].text, "first");

    s->edit_last("changed");
    finish_turn(*s);
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[0].text, "changed");
    EXPECT_EQ(s->prompt_text().rfind("<|im_start|>user\nchanged<|im_end|>\n", 0), 0u);
    EXPECT_EQ(s->undo(), "changed");
    EXPECT_EQ(s->undo(), "");
    EXPECT_THROW(s->regenerate(), Error);
    EXPECT_THROW(s->edit_last("x"), Error);
}

TEST_F(StoriesSession, CancelKeepsThePartialReplyMarkedInterrupted) {
    auto s = make(greedy_options(-1));
    s->submit("Tell a long story");
    std::string streamed;
    bool cancelled = false;
    SessionEvent last;
    while (true) {
        auto e = s->wait_event(std::chrono::milliseconds(100));
        if (!e) continue;
        if (e->kind == SessionEvent::Kind::Text) {
            streamed += e->text;
            if (!cancelled) {
                s->cancel();
                cancelled = true;
            }
        }
        if (e->kind == SessionEvent::Kind::Finished || e->kind == SessionEvent::Kind::Interrupted) {
            last = *e;
            break;
        }
    }
    const auto msgs = s->messages();
    ASSERT_EQ(msgs.size(), 2u);
    // Greedy decoding makes the reply the same every run; it is longer than one piece.
    ASSERT_NE(last.reason, StopReason::EndOfText) << "the model ended the reply before the cancel: the test needs a longer reply";
    EXPECT_EQ(last.kind, SessionEvent::Kind::Interrupted);
    EXPECT_EQ(last.reason, StopReason::Cancelled);
    EXPECT_TRUE(msgs[1].interrupted);
    EXPECT_EQ(msgs[1].stop_reason, StopReason::Cancelled);
    EXPECT_EQ(msgs[1].text, streamed);
    EXPECT_FALSE(streamed.empty());
    // The chat goes on, and the cache agrees with the engine.
    const Turn t = [&] {
        s->set("max-tokens", "3");
        return say(*s, "Go on");
    }();
    EXPECT_EQ(t.last.kind, SessionEvent::Kind::Finished);
    EXPECT_EQ(s->messages().size(), 4u);
}

TEST_F(StoriesSession, CancelDuringPromptEvaluation) {
    SessionOptions o = greedy_options(5);
    o.n_batch = 1;  // many batches, so the stop lands inside the prompt
    auto s = make(o);
    std::string long_text;
    for (int i = 0; i < 60; ++i) long_text += "word ";
    s->submit(long_text);
    s->cancel();
    const Turn t = finish_turn(*s);
    EXPECT_EQ(t.last.reason, StopReason::Cancelled);
    EXPECT_TRUE(s->messages()[1].interrupted);
    // The cache holds only evaluated positions; the next turn still works.
    EXPECT_LE(s->context().used, t.last.stats.prompt_tokens);
    s->regenerate();
    const Turn again = finish_turn(*s);
    EXPECT_EQ(again.last.kind, SessionEvent::Kind::Finished);
}

TEST_F(StoriesSession, BusySessionRefusesChangesButTakesSettings) {
    auto s = make(greedy_options(-1));
    s->submit("Once");
    EXPECT_THROW(s->submit("again"), Error);
    EXPECT_THROW(s->undo(), Error);
    EXPECT_THROW(s->clear(), Error);
    s->set("temp", "0");  // settings are fine at any time
    s->set("max-tokens", "2");  // applies from the next token
    const Turn t = finish_turn(*s);
    EXPECT_TRUE(t.last.reason == StopReason::MaxTokens || t.last.reason == StopReason::EndOfText);
    EXPECT_LT(t.last.stats.completion_tokens, 400);
}

TEST_F(StoriesSession, ReversePromptStopsAndStaysInTheReply) {
    // Find what the model says greedily, then use a piece of it as the reverse prompt.
    auto probe = make(greedy_options(12));
    say(*probe, "Tim");
    const std::string text = probe->messages()[1].text;
    ASSERT_GE(text.size(), 6u);
    const std::string rp = text.substr(2, 3);

    SessionOptions o = greedy_options(12);
    o.reverse_prompts = {rp};
    auto s = make(o);
    const Turn t = say(*s, "Tim");
    const std::string reply = s->messages()[1].text;
    EXPECT_EQ(t.last.reason, StopReason::ReversePrompt);
    EXPECT_EQ(reply, text.substr(0, text.find(rp) + rp.size()));
}

TEST_F(StoriesSession, TemplateStopStringIsHiddenAndEndsTheReply) {
    auto probe = make(greedy_options(12));
    say(*probe, "Lily");
    const std::string text = probe->messages()[1].text;
    ASSERT_GE(text.size(), 6u);
    // A user template whose stop string is a piece of that reply.
    TempDir dir;
    const std::string stop = text.substr(3, 3);
    {
        std::ofstream f(dir.path / "stopper.json");
        nlohmann::json j = {{"name", "stopper"},
                            {"roles", {{"user", {{"prefix", "<|im_start|>user\n"}, {"suffix", "<|im_end|>\n"}}},
                                       {"assistant", {{"prefix", "<|im_start|>assistant\n"}, {"suffix", "<|im_end|>\n"}}}}},
                            {"stop", {stop}}};
        f << j.dump();
    }
    setenv("XDG_CONFIG_HOME", dir.path.c_str(), 1);
    std::filesystem::create_directories(dir.path / "natter" / "templates");
    std::filesystem::rename(dir.path / "stopper.json", dir.path / "natter" / "templates" / "stopper.json");
    SessionOptions o = greedy_options(12);
    o.load_user_templates = true;
    o.template_name = "stopper";
    auto s = std::make_unique<Session>(model_, o);
    unsetenv("XDG_CONFIG_HOME");
    const Turn t = say(*s, "Lily");
    EXPECT_EQ(t.last.reason, StopReason::StopString);
    EXPECT_EQ(s->messages()[1].text, text.substr(0, text.find(stop)));
    EXPECT_EQ(t.streamed, s->messages()[1].text);  // never shown, not even in part
}

TEST_F(StoriesSession, MessageLongerThanTheContextIsRefused) {
    auto s = make(greedy_options(4, 64));
    std::string huge;
    for (int i = 0; i < 100; ++i) huge += "story ";
    try {
        s->submit(huge);
        FAIL() << "accepted a message longer than the context";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(s->messages().empty());
    EXPECT_FALSE(s->busy());
    EXPECT_THROW(s->submit("   \n"), Error);
}

TEST_F(StoriesSession, AReplyCutByTheLengthLimitSaysSo) {
    auto s = make(greedy_options(3));
    const Turn t = say(*s, "Once upon a time");
    ASSERT_EQ(t.last.reason, StopReason::MaxTokens);  // three greedy tokens end no story
    const auto notice = std::find_if(t.events.begin(), t.events.end(),
                                     [](const SessionEvent& e) { return e.kind == SessionEvent::Kind::Notice; });
    ASSERT_NE(notice, t.events.end()) << "no notice for a reply cut at -n";
    EXPECT_NE(notice->text.find("length limit of 3 tokens"), std::string::npos) << notice->text;
}

TEST_F(StoriesSession, StatsListEveryReplysNumbersAndWhyItStopped) {
    auto s = make(greedy_options(3));
    EXPECT_EQ(run_command(*s, parse_input("/stats"), false).notice, "No replies yet.");
    say(*s, "Once upon a time");
    say(*s, "The cat");
    const CommandResult r = run_command(*s, parse_input("/stats"), false);
    EXPECT_EQ(r.title, "Reply statistics");
    const std::vector<Message> msgs = s->messages();
    // One line per reply, with the numbers the transcript keeps.
    const std::string first = "reply 1: 3 tokens \u00b7 ", second = "reply 2: 3 tokens \u00b7 ";
    EXPECT_EQ(r.text.find(first), 0u) << r.text;
    EXPECT_NE(r.text.find("\n" + second), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("prompt " + std::to_string(msgs[3].stats.prompt_tokens) + " tokens, " +
                          std::to_string(msgs[3].stats.prompt_evaluated) + " evaluated in "),
              std::string::npos) << r.text;
    EXPECT_LT(msgs[3].stats.prompt_evaluated, msgs[3].stats.prompt_tokens);  // the first turn came from the cache
    EXPECT_NE(r.text.find("\u00b7 the -n limit\n"), std::string::npos) << r.text;
    EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 2);
}

TEST_F(StoriesSession, TheContextGaugeCountsOnlyTheConversationAfterClearAndUndo) {
    auto s = make(greedy_options(6));
    say(*s, "Once upon a time");
    const int after_first = s->context().used;
    say(*s, "The cat sat on a mat");
    ASSERT_GT(s->context().used, after_first);
    s->undo();
    // What the first exchange takes, as the template renders it (the reply's last token was
    // never evaluated, so the gauge may stand one below).
    const std::string first = "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n" +
                              s->messages()[1].text + "<|im_end|>\n";
    const int first_tokens = static_cast<int>(tok().tokenize(first, true, true).size());
    EXPECT_LE(s->context().used, first_tokens);
    EXPECT_GE(s->context().used, after_first - 1);
    s->clear();
    EXPECT_EQ(s->context().used, 0);  // an empty conversation without a system prompt holds nothing
}

}  // namespace
}  // namespace natter
