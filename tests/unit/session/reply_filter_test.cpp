// What the user sees of a reply: stop strings hidden (and their beginnings held back until
// they turn out to be something else), reverse prompts shown.
#include <gtest/gtest.h>

#include "session/reply_filter.h"

namespace natter {
namespace {

TEST(ReplyFilter, PassesTextWithoutStops) {
    ReplyFilter f({}, {});
    EXPECT_EQ(f.push("Hello"), "Hello");
    EXPECT_EQ(f.push(" world"), " world");
    EXPECT_EQ(f.flush(), "");
    EXPECT_FALSE(f.stopped());
    EXPECT_EQ(f.shown(), "Hello world");
}

TEST(ReplyFilter, HoldsBackAPossibleStopStringAndHidesIt) {
    ReplyFilter f({"<|im_end|>"}, {});
    EXPECT_EQ(f.push("Sure<|im"), "Sure");  // "<|im" may begin the stop string
    EXPECT_EQ(f.push("_end|>more"), "");
    EXPECT_TRUE(f.stopped());
    EXPECT_EQ(f.reason(), StopReason::StopString);
    EXPECT_EQ(f.shown(), "Sure");
    EXPECT_EQ(f.push("later"), "");  // ignored once stopped
    EXPECT_EQ(f.flush(), "");
}

TEST(ReplyFilter, ReleasesHeldTextThatTurnsOutHarmless) {
    ReplyFilter f({"### Instruction:"}, {});
    EXPECT_EQ(f.push("a\n###"), "a\n");
    EXPECT_EQ(f.push(" Inst"), "");
    EXPECT_EQ(f.push("ead"), "### Instead");  // no longer a prefix of the stop string
    EXPECT_EQ(f.push(" ##"), " ");
    EXPECT_EQ(f.flush(), "##");  // the end of the reply releases what was held
    EXPECT_EQ(f.shown(), "a\n### Instead ##");
    EXPECT_FALSE(f.stopped());
}

TEST(ReplyFilter, EarliestOfSeveralStopStringsWins) {
    ReplyFilter f({"<|im_end|>", "<|im_start|>"}, {});
    EXPECT_EQ(f.push("x<|im_start|>user<|im_end|>"), "x");
    EXPECT_EQ(f.shown(), "x");
}

TEST(ReplyFilter, ReversePromptStaysInTheText) {
    ReplyFilter f({}, {"User:"});
    EXPECT_EQ(f.push("Bob: hi\nUs"), "Bob: hi\nUs");  // not held back: it will be shown anyway
    EXPECT_EQ(f.push("er: and more"), "er:");
    EXPECT_TRUE(f.stopped());
    EXPECT_EQ(f.reason(), StopReason::ReversePrompt);
    EXPECT_EQ(f.shown(), "Bob: hi\nUser:");
}

TEST(ReplyFilter, StopStringBeforeReversePromptHidesBoth) {
    ReplyFilter f({"</s>"}, {"User:"});
    EXPECT_EQ(f.push("ok</s>User:"), "ok");
    EXPECT_EQ(f.reason(), StopReason::StopString);
}

TEST(ReplyFilter, StopStringAtTheVeryStart) {
    ReplyFilter f({"[INST]"}, {});
    EXPECT_EQ(f.push("[INST]"), "");
    EXPECT_TRUE(f.stopped());
    EXPECT_EQ(f.shown(), "");
}

TEST(ReplyFilter, MultiByteTextIsNeverSplit) {
    ReplyFilter f({"<|im_end|>"}, {});
    EXPECT_EQ(f.push("日本<"), "日本");
    EXPECT_EQ(f.push("語"), "<語");
}

TEST(ReplyFilter, EmptyStopStringsAreIgnored) {
    ReplyFilter f({""}, {""});
    EXPECT_EQ(f.push("abc"), "abc");
    EXPECT_FALSE(f.stopped());
}

}  // namespace
}  // namespace natter
