// The input area: prompt, wrapping, newlines and where the cursor goes.
#include <gtest/gtest.h>

#include "ui/input.h"

using namespace natter::ui;
using Rows = std::vector<std::string>;

TEST(InputLayout, PromptAndTextOnOneRow) {
    const InputView v = layout_input("> ", "hello", 5, 20);
    EXPECT_EQ(v.rows, (Rows{"> hello"}));
    EXPECT_EQ(v.cursor_row, 0);
    EXPECT_EQ(v.cursor_col, 7);
    EXPECT_EQ(layout_input("> ", "hello", 0, 20).cursor_col, 2);
}

TEST(InputLayout, LongTextWrapsUnderThePrompt) {
    const InputView v = layout_input("> ", "abcdefghij", 8, 8);
    EXPECT_EQ(v.rows, (Rows{"> abcdef", "  ghij"}));
    EXPECT_EQ(v.cursor_row, 1);  // byte 8 is 'i'
    EXPECT_EQ(v.cursor_col, 4);
}

TEST(InputLayout, NewlinesStartIndentedRows) {
    const InputView v = layout_input("> ", "one\ntwo", 7, 20);
    EXPECT_EQ(v.rows, (Rows{"> one", "  two"}));
    EXPECT_EQ(v.cursor_row, 1);
    EXPECT_EQ(v.cursor_col, 5);
    const InputView at_newline = layout_input("> ", "one\ntwo", 3, 20);
    EXPECT_EQ(at_newline.cursor_row, 0);
    EXPECT_EQ(at_newline.cursor_col, 5);
}

TEST(InputLayout, WideCharactersAreNeverSplitAndCountTwoColumns) {
    // "> " + 3 ideographs = 8 columns; the 4th does not fit in 9.
    const std::string text = "中文输入";
    const InputView v = layout_input("> ", text, 6, 9);  // byte 6: the third ideograph
    EXPECT_EQ(v.rows, (Rows{"> 中文输", "  入"}));
    EXPECT_EQ(v.cursor_row, 0);
    EXPECT_EQ(v.cursor_col, 6);
}

TEST(InputLayout, ACursorAtAFullRowsEndMovesToTheNextRow) {
    const InputView v = layout_input("> ", "abcdef", 6, 8);
    EXPECT_EQ(v.rows, (Rows{"> abcdef", "  "}));
    EXPECT_EQ(v.cursor_row, 1);
    EXPECT_EQ(v.cursor_col, 2);
}

TEST(InputLayout, ControlCharactersShowAsCaretNotation) {
    EXPECT_EQ(layout_input("> ", "a\x01z", 3, 20).rows, (Rows{"> a^Az"}));
    EXPECT_EQ(layout_input("> ", "a\x01z", 3, 20).cursor_col, 6);
}
