// Markdown lite on complete and on partial (still streaming) replies.
#include <gtest/gtest.h>

#include "ui/markdown.h"

using namespace natter::ui;

namespace {
StyledLine line(std::initializer_list<Span> spans, int indent = 0) {
    StyledLine l;
    l.spans = spans;
    l.indent = indent;
    return l;
}
}  // namespace

TEST(Markdown, PlainTextIsOneLinePerSourceLine) {
    const auto lines = render_markdown("Hello\nworld");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], line({{"Hello", Style::Plain}}));
    EXPECT_EQ(lines[1], line({{"world", Style::Plain}}));
}

TEST(Markdown, HeadingsLoseTheirHashes) {
    EXPECT_EQ(render_markdown("## Setup")[0], line({{"Setup", Style::Heading}}));
    EXPECT_EQ(render_markdown("#hashtag")[0], line({{"#hashtag", Style::Plain}}));  // no space: not a heading
}

TEST(Markdown, BoldAndInlineCode) {
    EXPECT_EQ(render_markdown("a **big** `x=1` end")[0],
              line({{"a ", Style::Plain}, {"big", Style::Bold}, {" ", Style::Plain}, {"x=1", Style::Code},
                    {" end", Style::Plain}}));
}

TEST(Markdown, UnclosedBoldStaysLiteralWhileStreaming) {
    EXPECT_EQ(render_markdown("a **bi")[0], line({{"a **bi", Style::Plain}}));
    EXPECT_EQ(render_markdown("a **big**")[0], line({{"a ", Style::Plain}, {"big", Style::Bold}}));
}

TEST(Markdown, FencedCodeBlocksAreCodeUntilTheClosingFence) {
    const auto lines = render_markdown("Look:\n```python\nx = **2**\n# not a heading\n```\nafter");
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[1], line({{"```python", Style::CodeFence}}));
    EXPECT_EQ(lines[2], line({{"x = **2**", Style::Code}}));  // no inline markup inside code
    EXPECT_EQ(lines[3], line({{"# not a heading", Style::Code}}));
    EXPECT_EQ(lines[4], line({{"```", Style::CodeFence}}));
    EXPECT_EQ(lines[5], line({{"after", Style::Plain}}));
}

TEST(Markdown, AnUnclosedFenceMakesTheRestCode) {
    const auto lines = render_markdown("```\nint main() {\n    return 0;");
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[2], line({{"    return 0;", Style::Code}}));
}

TEST(Markdown, ListItemsGetABulletAndAHangingIndent) {
    const auto lines = render_markdown("- milk\n  * eggs\n12. flour");
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], line({{"\u2022", Style::Bullet}, {" milk", Style::Plain}}, 2));
    EXPECT_EQ(lines[1], line({{"  \u2022", Style::Bullet}, {" eggs", Style::Plain}}, 4));
    EXPECT_EQ(lines[2], line({{"12.", Style::Bullet}, {" flour", Style::Plain}}, 4));
    EXPECT_EQ(render_markdown("-not a list")[0], line({{"-not a list", Style::Plain}}));
    EXPECT_EQ(render_markdown("2024 was")[0], line({{"2024 was", Style::Plain}}));
}
