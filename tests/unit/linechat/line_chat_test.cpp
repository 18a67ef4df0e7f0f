// The line-mode chat driven through streams, as `echo ... | natter chat` would.
#include <gtest/gtest.h>

#include <sstream>

#include "session/chat_commands.h"
#include "linechat/line_chat.h"
#include "core/error.h"
#include "unit/session/session_test_util.h"

namespace natter {
namespace {

using test::greedy_options;
using test::TempDir;

class LineChat : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::stories_path());
        ASSERT_TRUE(model_);
        SessionOptions o = greedy_options(5);
        o.template_name = "chatml";
        o.autosave_dir = dir_.path / "sessions";
        session_ = std::make_unique<Session>(model_, o);
    }
    int run(const std::string& input, bool verbose = false, bool autosave = true) {
        std::istringstream in(input);
        LineChatOptions options;
        options.verbose = verbose;
        options.autosave = autosave;
        return run_line_chat(*session_, in, out_, err_, options);
    }
    TempDir dir_;
    std::shared_ptr<const Model> model_;
    std::unique_ptr<Session> session_;
    std::ostringstream out_, err_;
};

TEST_F(LineChat, EachLineIsAMessageAndRepliesGoToStdout) {
    EXPECT_EQ(run("Hello\nline one\\\nline two\n"), 0);
    const auto msgs = session_->messages();
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[0].text, "Hello");
    EXPECT_EQ(msgs[2].text, "line one\nline two");  // a trailing backslash continues the message
    EXPECT_EQ(out_.str(), msgs[1].text + "\n" + msgs[3].text + "\n");
    // End of input autosaves.
    EXPECT_NE(err_.str().find("chat saved to " + (dir_.path / "sessions").string()), std::string::npos) << err_.str();
}

TEST_F(LineChat, WithoutAutosaveTheEndOfInputLeavesNoFileButSaveStillWorks) {
    const std::string save = (dir_.path / "kept.json").string();
    // /clear does not autosave the chat it replaces either.
    EXPECT_EQ(run("Hi\n/clear\nHello\n/save " + save + "\nOnce more\n", false, false), 0);
    EXPECT_EQ(session_->messages().size(), 4u);
    EXPECT_EQ(session_->messages()[0].text, "Hello");
    EXPECT_EQ(err_.str().find("chat saved to"), std::string::npos) << err_.str();
    EXPECT_FALSE(std::filesystem::exists(dir_.path / "sessions"));
    EXPECT_TRUE(std::filesystem::exists(save));  // asked for, so written
    EXPECT_TRUE(session_->has_unsaved_changes());
}

TEST_F(LineChat, SlashCommandsActOnTheSession) {
    const std::string save = (dir_.path / "c.json").string();
    EXPECT_EQ(run("/set temp 0.25\n/template zephyr\nHi\n/prompt\n/undo\n/nonsense\n/set top-p 7\n/save " + save + "\n/quit\nnot read\n"), 0);
    EXPECT_FLOAT_EQ(session_->settings().sampling.temperature, 0.25f);
    EXPECT_EQ(session_->template_name(), "zephyr");
    EXPECT_TRUE(session_->messages().empty());  // /undo removed the exchange; "not read" after /quit
    const std::string err = err_.str();
    EXPECT_NE(err.find("temp = 0.25"), std::string::npos) << err;
    EXPECT_NE(err.find("<|user|>\nHi</s>\n<|assistant|>\n"), std::string::npos) << err;  // /prompt
    EXPECT_NE(err.find("unknown command /nonsense"), std::string::npos) << err;
    EXPECT_NE(err.find("top-p must be between 0 and 1"), std::string::npos) << err;
    EXPECT_NE(err.find("Saved the chat to " + save), std::string::npos) << err;
    EXPECT_TRUE(std::filesystem::exists(save));
}

TEST_F(LineChat, VerboseReportsTokensAndSpeed) {
    run("Hi\n", true);
    EXPECT_NE(err_.str().find("natter: 5 tokens"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("max-tokens"), std::string::npos) << err_.str();
}

TEST_F(LineChat, ErrorsDoNotEndTheChat) {
    std::string huge;
    for (int i = 0; i < 400; ++i) huge += "story ";
    EXPECT_EQ(run(huge + "\nHi\n"), 0);
    EXPECT_NE(err_.str().find("too long"), std::string::npos);
    EXPECT_EQ(session_->messages().size(), 2u);
}

TEST_F(LineChat, EditWithoutTextMakesTheNextMessageReplaceTheLast) {
    EXPECT_EQ(run("Hi\n/edit\nHello there\n"), 0);
    const auto msgs = session_->messages();
    ASSERT_EQ(msgs.size(), 2u);  // replaced, not appended
    EXPECT_EQ(msgs[0].text, "Hello there");
    EXPECT_NE(err_.str().find("Last message: Hi\n"), std::string::npos) << err_.str();
}

TEST_F(LineChat, ScreenOnlyCommandsSaySo) {
    EXPECT_EQ(run("/copy\n/exit\nnot read\n"), 0);
    EXPECT_NE(err_.str().find("/copy works only in the full-screen chat."), std::string::npos) << err_.str();
    EXPECT_TRUE(session_->messages().empty());
}

}  // namespace
}  // namespace natter
