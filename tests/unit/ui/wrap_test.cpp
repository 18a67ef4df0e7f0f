// Word wrapping: spaces, CJK, wide characters at the edge, long words, hanging indents.
#include <gtest/gtest.h>

#include "ui/text.h"
#include "ui/wrap.h"

using namespace natter::ui;
using Rows = std::vector<std::string>;

TEST(Wrap, BreaksAtSpacesAndDropsThem) {
    EXPECT_EQ(wrap_text("the quick brown fox jumps", 10), (Rows{"the quick", "brown fox", "jumps"}));
    EXPECT_EQ(wrap_text("exactly ten", 11), (Rows{"exactly ten"}));
    EXPECT_EQ(wrap_text("a  b", 1), (Rows{"a", "b"}));
}

TEST(Wrap, KeepsLeadingIndentOfTheFirstRowAndEmptyLines) {
    EXPECT_EQ(wrap_text("    code()", 20), (Rows{"    code()"}));
    EXPECT_EQ(wrap_text("one\n\ntwo", 10), (Rows{"one", "", "two"}));
    EXPECT_EQ(wrap_text("", 10), (Rows{""}));
}

TEST(Wrap, CutsWordsLongerThanTheRow) {
    EXPECT_EQ(wrap_text("abcdefghij", 4), (Rows{"abcd", "efgh", "ij"}));
    EXPECT_EQ(wrap_text("hi abcdefgh", 4), (Rows{"hi", "abcd", "efgh"}));
}

TEST(Wrap, BreaksChineseBetweenAnyTwoCharacters) {
    // 8 cells hold four ideographs; no spaces are needed to break.
    EXPECT_EQ(wrap_text("我们今天去公园散步吧", 8), (Rows{"我们今天", "去公园散", "步吧"}));
}

TEST(Wrap, NeverSplitsAWideCharacter) {
    // 7 cells: three ideographs use 6, the fourth would need cells 7 and 8.
    const Rows rows = wrap_text("我们今天去公园", 7);
    EXPECT_EQ(rows, (Rows{"我们今", "天去公", "园"}));
    for (const auto& r : rows) EXPECT_LE(display_width(r), 7);
    // Mixed: "ab" then ideographs.
    EXPECT_EQ(wrap_text("ab我们今天", 5), (Rows{"ab我", "们今", "天"}));
}

TEST(Wrap, KeepsClosingPunctuationOffTheStartOfARow) {
    // "。" does not fit after "我们今" and may not begin a row, so "今。" moves down together.
    EXPECT_EQ(wrap_text("我们今。好", 6), (Rows{"我们", "今。好"}));
    // "（" may not end a row.
    EXPECT_EQ(wrap_text("我们（今天）", 6), (Rows{"我们", "（今", "天）"}));
}

TEST(Wrap, EnglishWordsInsideChineseStayWhole) {
    EXPECT_EQ(wrap_text("用Python写代码", 7), (Rows{"用", "Python", "写代码"}));
    EXPECT_EQ(wrap_text("用Python写代码", 8), (Rows{"用Python", "写代码"}));
}

TEST(Wrap, CombiningMarksStayOnTheirCharactersRow) {
    // "cafe\u0301" is 4 cells; at width 4 it fits on one row with its accent.
    EXPECT_EQ(wrap_text("cafe\u0301 ok", 4), (Rows{"cafe\u0301", "ok"}));
}

TEST(Wrap, AGlyphWiderThanTheRowGetsARowOfItsOwn) {
    EXPECT_EQ(wrap_text("中文", 1), (Rows{"中", "文"}));
}

TEST(Wrap, ContinuationRowsGetTheHangingIndentAndStylesSurvive) {
    StyledLine line;
    line.indent = 2;
    line.add("\u2022", Style::Bullet);
    line.add(" one ", Style::Plain);
    line.add("two", Style::Bold);
    line.add(" three", Style::Plain);
    const auto rows = wrap(line, 9);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text(), "\u2022 one two");
    EXPECT_EQ(rows[1].text(), "  three");
    ASSERT_EQ(rows[0].spans.size(), 3u);
    EXPECT_EQ(rows[0].spans[2], (Span{"two", Style::Bold}));
    EXPECT_EQ(rows[1].spans[0], (Span{"  three", Style::Plain}));
}

TEST(Wrap, EveryRowFitsForEveryWidth) {
    const std::string text = "Hello 世界! これは test です。 Ünïcödé e\u0301 \U0001F600\U0001F600 abcdefghijklmnop";
    for (int width = 1; width <= 40; ++width) {
        std::string joined;
        for (const auto& row : wrap_text(text, width)) {
            EXPECT_LE(display_width(row), std::max(width, 2)) << "width " << width << ": " << row;
            joined += row;
        }
        // Only spaces are dropped at breaks: every other character is still there, in order.
        std::string expected;
        for (char c : text) {
            if (c != ' ') expected += c;
        }
        std::string got;
        for (char c : joined) {
            if (c != ' ') got += c;
        }
        EXPECT_EQ(got, expected) << "width " << width;
    }
}

TEST(Wrap, SecondColumnOfAlignedLines) {
    EXPECT_EQ(second_column("  F1      show this help"), 10);
    EXPECT_EQ(second_column("  /save [file]  save the chat"), 16);
    EXPECT_EQ(second_column("plain text, one space each"), 0);
    EXPECT_EQ(second_column("    "), 0);
    EXPECT_EQ(second_column("  trailing  "), 0);
}
