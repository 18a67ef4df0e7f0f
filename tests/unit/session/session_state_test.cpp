// The session without much generation: exact prompt text per template, switching template
// mid-conversation, settings by name, transcripts of a live session, autosave.
#include <gtest/gtest.h>

#include <fstream>

#include "core/paths.h"
#include "session/session_impl.h"
#include "session/transcript.h"
#include "core/error.h"
#include "session_test_util.h"

namespace natter {
namespace {

using test::finish_turn;
using test::greedy_options;
using test::say;
using test::TempDir;
using test::Turn;

// A two-exchange conversation with known replies, loaded from a transcript.
constexpr const char* kChat = R"({"format":"natter-transcript","version":1,"template":"chatml",
  "system_prompt":"Be brief.","settings":{"temperature":0,"repeat_penalty":1,"max_tokens":4},
  "messages":[{"role":"user","text":"Hi"},{"role":"assistant","text":"Hello!"},
              {"role":"user","text":"How are you?"},{"role":"assistant","text":"Fine."}]})";

class SessionState : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::stories_path());
        ASSERT_TRUE(model_);
        std::ofstream(dir_.path / "chat.json") << kChat;
        session_ = std::make_unique<Session>(model_, greedy_options(4));
        session_->load(dir_.path / "chat.json");
    }
    std::string prompt_with(const std::string& name) {
        session_->set_template(name);
        return session_->prompt_text();
    }
    TempDir dir_;
    std::shared_ptr<const Model> model_;
    std::unique_ptr<Session> session_;
};

TEST_F(SessionState, LoadRestoresConversationTemplateAndSettings) {
    const auto msgs = session_->messages();
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[2].text, "How are you?");
    EXPECT_EQ(msgs[3].role, Role::Assistant);
    EXPECT_EQ(session_->template_name(), "chatml");
    EXPECT_EQ(session_->system_prompt(), "Be brief.");
    EXPECT_EQ(session_->settings().max_tokens, 4);
    EXPECT_FALSE(session_->has_unsaved_changes());
}

TEST_F(SessionState, ExactPromptTextForEachTemplate) {
    EXPECT_EQ(prompt_with("chatml"),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
              "<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\nFine.<|im_end|>\n");
    EXPECT_EQ(prompt_with("llama-2"),
              "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST] Fine. </s>");
    EXPECT_EQ(prompt_with("llama-3"),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nFine.<|eot_id|>");
    EXPECT_EQ(prompt_with("mistral"), "<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST] How are you? [/INST] Fine.</s>");
    EXPECT_EQ(prompt_with("zephyr"),
              "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nHow are you?</s>\n<|assistant|>\nFine.</s>\n");
    EXPECT_EQ(prompt_with("vicuna"), "Be brief. USER: Hi ASSISTANT: Hello!</s>USER: How are you? ASSISTANT: Fine.</s>");
    EXPECT_EQ(prompt_with("raw"), "Be brief.HiHello!How are you?Fine.");
    session_->set_system_prompt("");  // alpaca's own system text comes back
    EXPECT_EQ(prompt_with("alpaca"),
              "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
              "### Instruction:\nHi\n\n### Response:\nHello!\n\n### Instruction:\nHow are you?\n\n### Response:\nFine.\n\n");
}

TEST_F(SessionState, LoadingADirectorySaysSoAndChangesNothing) {
    const auto before = session_->messages().size();
    try {
        session_->load(dir_.path);
        FAIL() << "loaded a directory";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), dir_.path.string() + " is a directory, not a saved chat.");
    }
    EXPECT_EQ(session_->messages().size(), before);
}

TEST_F(SessionState, UnknownTemplateChangesNothing) {
    EXPECT_THROW(session_->set_template("no-such-template"), Error);
    EXPECT_EQ(session_->template_name(), "chatml");
    const auto names = session_->template_names();
    for (const char* n : {"alpaca", "chatml", "llama-2", "llama-3", "mistral", "raw", "vicuna", "zephyr"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    }
}

TEST_F(SessionState, SwitchingTemplateReRendersTheHistoryForTheNextTurn) {
    session_->set_template("llama-3");
    const Turn t = say(*session_, "And you?");
    ASSERT_EQ(t.last.kind, SessionEvent::Kind::Finished) << t.last.text;
    const std::string history =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nFine.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    // llama-3 writes BOS as text, so the tokenizer must not add one too.
    const auto expected = model_->tokenizer().tokenize(history, false, true);
    const auto ctx = session_->context_tokens();
    ASSERT_GE(ctx.size(), expected.size());
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ctx.begin()));
    EXPECT_EQ(session_->messages()[5].stats.prompt_tokens, static_cast<int>(expected.size()));

    // Back to chatml: the whole history is evaluated again in that format, with BOS.
    session_->set_template("chatml");
    say(*session_, "Bye");
    const auto ctx2 = session_->context_tokens();
    ASSERT_FALSE(ctx2.empty());
    EXPECT_EQ(ctx2.front(), model_->tokenizer().bos());
    EXPECT_EQ(session_->prompt_text().rfind("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", 0), 0u);
}

TEST_F(SessionState, SettingsByName) {
    Session& s = *session_;
    s.set("temp", "0.7");
    EXPECT_EQ(s.get("temperature"), "0.7");
    EXPECT_FLOAT_EQ(s.settings().sampling.temperature, 0.7f);
    s.set("top_k", "12");
    EXPECT_EQ(s.settings().sampling.top_k, 12);
    s.set("Top-P", "0.5");
    EXPECT_FLOAT_EQ(s.settings().sampling.top_p, 0.5f);
    s.set("repeat-penalty", "1.3");
    s.set("repeat_last_n", "-1");
    EXPECT_EQ(s.settings().sampling.repeat_last_n, -1);
    s.set("n-predict", "77");
    EXPECT_EQ(s.settings().max_tokens, 77);
    s.set("seed", "18446744073709551615");
    EXPECT_EQ(s.get("seed"), "18446744073709551615");
    s.set("seed", "random");  // the sampler's own "choose one" value, 0xFFFFFFFF
    EXPECT_EQ(s.settings().sampling.seed, 0xFFFFFFFFu);
    EXPECT_EQ(s.get("seed"), "random");
    s.set("seed", "42");
    s.set("keep", "5");
    EXPECT_EQ(s.get("keep"), "5");

    const ChatSettings before = s.settings();
    EXPECT_THROW(s.set("temp", "hot"), Error);
    EXPECT_THROW(s.set("temp", "-1"), Error);
    EXPECT_THROW(s.set("top-p", "1.5"), Error);
    try {
        s.set("top-k", "1.5");
        ADD_FAILURE() << "top-k took 1.5";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "top-k takes a whole number, not 1.5.");
    }
    EXPECT_THROW(s.set("temp", "nan"), Error);
    EXPECT_THROW(s.set("temp", ""), Error);
    try {
        s.set("warmth", "1");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("warmth"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("top-p"), std::string::npos);  // lists the real ones
    }
    EXPECT_EQ(s.settings().sampling.temperature, before.sampling.temperature);
    EXPECT_EQ(s.settings().sampling.top_k, before.sampling.top_k);
    EXPECT_EQ(s.settings().sampling.top_p, before.sampling.top_p);
}

TEST_F(SessionState, SaveLoadRoundTripOfALiveSession) {
    say(*session_, "Tell me a story");
    EXPECT_TRUE(session_->has_unsaved_changes());
    const auto path = dir_.path / "saved.json";
    session_->save_as(path);
    EXPECT_FALSE(session_->has_unsaved_changes());

    auto other = std::make_unique<Session>(model_, greedy_options(4));
    other->load(path);
    const auto a = session_->messages();
    const auto b = other->messages();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].role, b[i].role);
        EXPECT_EQ(a[i].text, b[i].text);
        EXPECT_EQ(a[i].stats.completion_tokens, b[i].stats.completion_tokens);
        EXPECT_EQ(a[i].stop_reason, b[i].stop_reason);
    }
    EXPECT_EQ(other->prompt_text(), session_->prompt_text());
    // The loaded chat goes on: the whole history is evaluated once, then reused.
    const Turn t = say(*other, "Go on");
    EXPECT_EQ(t.last.kind, SessionEvent::Kind::Finished);
    EXPECT_EQ(other->messages().back().stats.prompt_evaluated, other->messages().back().stats.prompt_tokens);

    session_->save_as(dir_.path / "saved.md");
    std::ifstream md(dir_.path / "saved.md");
    std::string first_line;
    std::getline(md, first_line);
    EXPECT_EQ(first_line, "# Chat with llama");
}

TEST_F(SessionState, MalformedLoadLeavesTheChatUntouched) {
    const auto before = session_->messages();
    std::ofstream(dir_.path / "bad.json") << R"({"format":"natter-transcript","version":1,"messages":[{"role":"user"}]})";
    std::ofstream(dir_.path / "torn.json") << std::string(kChat).substr(0, 100);
    for (const char* name : {"bad.json", "torn.json", "missing.json"}) {
        try {
            session_->load(dir_.path / name);
            ADD_FAILURE() << name << " loaded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        }
    }
    const auto after = session_->messages();
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].text, before[i].text);
    EXPECT_EQ(session_->system_prompt(), "Be brief.");
}

TEST_F(SessionState, LoadWithAnUnknownTemplateKeepsTheCurrentOneAndSaysSo) {
    std::ofstream(dir_.path / "odd.json")
        << R"({"format":"natter-transcript","version":1,"template":"klingon","messages":[{"role":"user","text":"x"}]})";
    session_->set_template("zephyr");
    while (session_->poll_event()) {
    }
    session_->load(dir_.path / "odd.json");
    EXPECT_EQ(session_->template_name(), "zephyr");
    const auto e = session_->poll_event();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, SessionEvent::Kind::Notice);
    EXPECT_NE(e->text.find("klingon"), std::string::npos);
}

TEST_F(SessionState, AutosaveWritesOnlyChangesIntoTheSessionsFolder) {
    setenv("XDG_DATA_HOME", dir_.path.c_str(), 1);
    EXPECT_EQ(paths::sessions_dir(), dir_.path / "natter" / "sessions");
    EXPECT_EQ(session_->autosave(), "");  // just loaded: nothing new
    say(*session_, "One more");
    const auto path = session_->autosave();
    unsetenv("XDG_DATA_HOME");
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(path.parent_path(), dir_.path / "natter" / "sessions");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const Transcript t = transcript_from_json(text.str(), path.string());
    EXPECT_EQ(t.messages.size(), 6u);
    EXPECT_EQ(session_->autosave(), "");  // saved already
    EXPECT_FALSE(session_->has_unsaved_changes());
    session_->undo();
    EXPECT_EQ(session_->autosave(), path);  // the same file, updated
}

TEST_F(SessionState, ClearStartsANewConversation) {
    session_->clear();
    EXPECT_TRUE(session_->messages().empty());
    EXPECT_EQ(session_->system_prompt(), "Be brief.");
    EXPECT_EQ(session_->prompt_text(), "<|im_start|>system\nBe brief.<|im_end|>\n");
    EXPECT_FALSE(session_->has_unsaved_changes());
}

TEST(SessionOptionsTest, UnknownTemplateOrTinyContextIsAClearError) {
    auto model = test::load_once(test::stories_path());
    SessionOptions o = greedy_options(4);
    o.template_name = "nope";
    EXPECT_THROW(Session(model, o), Error);
    o.template_name = "";
    o.n_ctx = 4;
    EXPECT_THROW(Session(model, o), Error);
    o.n_ctx = 0;  // the model's training context
    Session s(model, o);
    EXPECT_EQ(s.context().total, 2048);
    EXPECT_EQ(s.template_name(), "chatml");  // stories260K has no chat template
    EXPECT_EQ(s.model_name(), "llama");
    SessionOptions missing;
    missing.model_path = "/nonexistent/model.gguf";
    EXPECT_THROW(Session{missing}, Error);
}

}  // namespace
}  // namespace natter
