// Cell widths and UTF-8 handling, against the Unicode East Asian Width property.
#include <gtest/gtest.h>

#include "ui/text.h"

using namespace natter::ui;

TEST(DisplayWidth, AsciiIsOneCellPerCharacter) {
    EXPECT_EQ(display_width(""), 0);
    EXPECT_EQ(display_width("hello, world"), 12);
}

TEST(DisplayWidth, CjkAndEmojiAreTwoCells) {
    EXPECT_EQ(display_width("中文"), 4);             // U+4E2D U+6587, East Asian Wide
    EXPECT_EQ(display_width("日本語です"), 10);
    EXPECT_EQ(display_width("한국어"), 6);            // Hangul syllables
    EXPECT_EQ(display_width("\U0001F600"), 2);       // grinning face, Emoji_Presentation
    EXPECT_EQ(display_width("\uFF21"), 2);           // fullwidth A
    EXPECT_EQ(display_width("\uFF71"), 1);           // halfwidth katakana A
    EXPECT_EQ(display_width("a中b"), 4);
}

TEST(DisplayWidth, CombiningMarksAndZeroWidthTakeNoCell) {
    EXPECT_EQ(display_width("e\u0301"), 1);          // e + combining acute
    EXPECT_EQ(display_width("\u00E9"), 1);           // precomposed é
    EXPECT_EQ(display_width("a\u200Bb"), 2);         // zero width space
    EXPECT_EQ(display_width("\u0915\u094D\u0937"), 2);  // Devanagari: virama is a mark
}

TEST(Utf8, DecodesAndReplacesBrokenSequences) {
    std::size_t pos = 0;
    const std::string s = "\xE4\xB8\xAD";  // 中
    EXPECT_EQ(decode_utf8(s, pos), U'\u4E2D');
    EXPECT_EQ(pos, 3u);

    const std::string truncated = "\xE4\xB8";
    pos = 0;
    EXPECT_EQ(decode_utf8(truncated, pos), U'\uFFFD');
    EXPECT_EQ(pos, 1u);  // one byte consumed, so the next byte is tried on its own

    const std::string overlong = "\xC0\xAF";  // '/' encoded in two bytes
    pos = 0;
    EXPECT_EQ(decode_utf8(overlong, pos), U'\uFFFD');
    const std::string surrogate = "\xED\xA0\x80";
    pos = 0;
    EXPECT_EQ(decode_utf8(surrogate, pos), U'\uFFFD');

    std::string out;
    append_utf8(out, U'\U0001F600');
    EXPECT_EQ(out, "\xF0\x9F\x98\x80");
}

TEST(Glyphs, CombiningMarksStayWithTheirBase) {
    const std::string s = "ae\u0301\u4E2D";
    const auto g = split_glyphs(s);
    ASSERT_EQ(g.size(), 3u);
    EXPECT_EQ(s.substr(g[1].begin, g[1].end - g[1].begin), "e\u0301");
    EXPECT_EQ(g[1].width, 1);
    EXPECT_EQ(g[2].width, 2);
    EXPECT_EQ(g[2].first, U'\u4E2D');
}

TEST(Sanitize, ExpandsTabsAndNeutralisesControls) {
    EXPECT_EQ(sanitize("a\tb"), "a   b");
    EXPECT_EQ(sanitize("abcd\tb"), "abcd    b");
    EXPECT_EQ(sanitize("\xE4\xB8\xAD\tx"), "\xE4\xB8\xAD  x");  // the wide character counts two columns
    EXPECT_EQ(sanitize("x\ny\tz"), "x\ny   z");                  // columns restart after a newline
    EXPECT_EQ(sanitize("red\x1b[31m!"), "red\uFFFD[31m!");      // no escape sequence reaches the terminal
    EXPECT_EQ(sanitize("line\r\nnext"), "line\nnext");
    EXPECT_EQ(sanitize("bad\xFFtail"), "bad\uFFFDtail");
}

TEST(Truncate, CutsAtWholeGlyphsAndMarksTheCut) {
    EXPECT_EQ(truncate_to_width("hello", 5), "hello");
    EXPECT_EQ(truncate_to_width("hello world", 6), "hello\u2026");
    // 5 cells: two ideographs (4) and the ellipsis (1).
    EXPECT_EQ(truncate_to_width("中文中文", 5), "中文\u2026");
    // 4 cells: one ideograph fits before the ellipsis; a half ideograph never appears.
    EXPECT_EQ(truncate_to_width("中文中文", 4), "中\u2026");
    EXPECT_EQ(truncate_to_width("abc", 0), "");
}

namespace {
std::u32string assemble(std::string_view bytes, bool flush = true) {
    Utf8Assembler a;
    std::u32string out;
    for (const char b : bytes) {
        for (const char32_t cp : a.push(static_cast<unsigned char>(b))) out += cp;
    }
    if (flush) {
        for (const char32_t cp : a.flush()) out += cp;
    }
    return out;
}
}  // namespace

TEST(Utf8Assembler, EveryByteBecomesACharacterOrAReplacement) {
    EXPECT_EQ(assemble("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80z"), U"a\u00E9\u4E2D\U0001F600z");
    EXPECT_EQ(assemble("ab\xFF" "cd"), U"ab\uFFFDcd");               // a byte that starts nothing
    EXPECT_EQ(assemble("x\x80y"), U"x\uFFFDy");                      // a lone continuation byte
    EXPECT_EQ(assemble("\xE4\xB8z"), U"\uFFFDz");                    // a sequence cut short
    EXPECT_EQ(assemble("\xE4\xB8", false), U"");                     // ...or still arriving
    EXPECT_EQ(assemble("\xE4\xB8"), U"\uFFFD");                      // ...and never finished
    EXPECT_EQ(assemble("\xC0\xAF"), U"\uFFFD");                      // an overlong "/"
}

TEST(SplitLines, KeepsEmptyLines) {
    EXPECT_EQ(split_lines(""), (std::vector<std::string>{""}));
    EXPECT_EQ(split_lines("a\n\nb\n"), (std::vector<std::string>{"a", "", "b", ""}));
}
