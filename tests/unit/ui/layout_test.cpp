// The scrollback: turns to rows, caching, and anchors that survive a resize.
#include <gtest/gtest.h>

#include "ui/layout.h"

using namespace natter::ui;

namespace {
std::vector<std::string> texts(const std::vector<StyledLine>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.text());
    return out;
}
Turn turn(Turn::Who who, std::string text) {
    Turn t;
    t.who = who;
    t.text = std::move(text);
    return t;
}
Turn user(std::string text) { return turn(Turn::Who::User, std::move(text)); }
Turn reply(std::string text) { return turn(Turn::Who::Assistant, std::move(text)); }
}  // namespace

TEST(LayoutTurn, LabelTextAndSeparator) {
    const auto rows = layout_turn(user("hello there friend"), "Bot", 12);
    EXPECT_EQ(texts(rows), (std::vector<std::string>{"You", "hello there", "friend", ""}));
    EXPECT_EQ(rows[0].spans[0].style, Style::UserLabel);
    EXPECT_EQ(rows[1].spans[0].style, Style::UserText);
}

TEST(LayoutTurn, RepliesAreMarkdownAndInterruptionsAreMarked) {
    Turn t = reply("**Hi**\n- one");
    t.interrupted = true;
    const auto rows = layout_turn(t, "SmolLM2", 40);
    EXPECT_EQ(texts(rows), (std::vector<std::string>{"SmolLM2", "Hi", "\u2022 one", "[interrupted]", ""}));
    EXPECT_EQ(rows[0].spans[0].style, Style::AssistantLabel);
    EXPECT_EQ(rows[1].spans[0].style, Style::Bold);
}

TEST(LayoutTurn, UserTextIsNotMarkdownAndControlsAreNeutralised) {
    const auto rows = layout_turn(user("**not bold**\x1b[2J"), "Bot", 40);
    EXPECT_EQ(rows[1].text(), "**not bold**\uFFFD[2J");
}

TEST(LayoutTurn, AWaitingReplyShowsAnEllipsisAndDroppedTurnsSaySo) {
    Turn waiting = reply("");
    waiting.streaming = true;
    EXPECT_EQ(texts(layout_turn(waiting, "Bot", 20)), (std::vector<std::string>{"Bot", "\u2026", ""}));
    Turn old = user("hi");
    old.in_context = false;
    EXPECT_EQ(layout_turn(old, "Bot", 60)[0].text(), "You  (no longer in the context window)");
}

TEST(Scrollback, RowsAcrossTurnsAndWidthChanges) {
    Scrollback sb;
    sb.set_assistant_label("Bot");
    sb.set_width(20);
    sb.set_turns({user("one two three four five six"), reply("ok")});
    // user: label + 2 rows + blank; reply: label + 1 + blank
    EXPECT_EQ(sb.total_rows(), 7);
    EXPECT_EQ(texts(sb.rows(2, 3)), (std::vector<std::string>{"five six", "", "Bot"}));
    sb.set_width(10);
    EXPECT_EQ(sb.total_rows(), 8);  // "one two", "three four", "five six"
    EXPECT_EQ(texts(sb.rows(6, 10)), (std::vector<std::string>{"ok", ""}));
}

TEST(Scrollback, StreamingUpdatesOnlyChangeTheLastTurn) {
    Scrollback sb;
    sb.set_width(30);
    std::vector<Turn> turns{user("hi"), reply("Once")};
    sb.set_turns(turns);
    const int before = sb.total_rows();
    turns[1].text = "Once upon\na time";
    sb.set_turns(turns);
    EXPECT_EQ(sb.total_rows(), before + 1);
    EXPECT_EQ(texts(sb.rows(4, 2)), (std::vector<std::string>{"Once upon", "a time"}));
}

TEST(Scrollback, AnchorsFindTheSameTurnAfterAResize) {
    Scrollback sb;
    sb.set_width(40);
    sb.set_turns({user("first"), reply(std::string(200, 'x')), user("last")});
    // Turn 1 starts at row 3 (label, "first", blank); its label is row 3.
    const RowAnchor a = sb.anchor_of(3);
    EXPECT_EQ(a.turn, 1u);
    EXPECT_DOUBLE_EQ(a.fraction, 0.0);
    sb.set_width(20);
    EXPECT_EQ(sb.row_of(a), 3);
    // Halfway through the long reply stays halfway through it.
    const RowAnchor mid = sb.anchor_of(3 + 6);  // 20 cols: label + 10 rows + blank = 12 rows
    EXPECT_EQ(mid.turn, 1u);
    EXPECT_DOUBLE_EQ(mid.fraction, 0.5);
    sb.set_width(10);                            // now label + 20 rows + blank = 22 rows
    EXPECT_EQ(sb.row_of(mid), 3 + 11);
}

TEST(LayoutTurn, ShownStatsComeUnderTheReplyDimAndWrapped) {
    Turn t = reply("Paris.");
    t.stats = "7 tokens \u00b7 13.3 tokens/s \u00b7 end of text";
    const auto rows = layout_turn(t, "Bot", 20);
    // "7 tokens · 13.3 " is 16 columns; the middle dot is one column wide.
    EXPECT_EQ(texts(rows), (std::vector<std::string>{"Bot", "Paris.", "7 tokens \u00b7 13.3", "tokens/s \u00b7 end of", "text", ""}));
    EXPECT_EQ(rows[2].spans[0].style, Style::Dim);
}
