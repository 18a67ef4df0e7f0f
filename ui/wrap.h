#pragma once
// Word wrapping at a column width for the terminal: breaks at spaces, anywhere inside
// CJK text (which has no spaces), never inside a character, a wide character or a
// character with its combining marks; a word longer than the line is cut at the width.
#include <string>
#include <string_view>
#include <vector>

#include "ui/styled.h"

namespace natter::ui {

// Wraps one logical line (no newlines) into rows of at most `width` cells. Spaces at a
// break vanish; leading spaces of the first row stay (code keeps its indentation).
// Continuation rows start with line.indent spaces when that leaves room for text.
// An empty line gives one empty row. A glyph wider than `width` gets a row of its own.
std::vector<StyledLine> wrap(const StyledLine& line, int width);

// The same for plain text, which may contain newlines (each starts a new row).
std::vector<std::string> wrap_text(std::string_view text, int width);

// Where the second column of an aligned two-column line starts ("  F1    show help" -> 8),
// for a hanging indent that keeps wrapped help text in its column; 0 if there is none.
int second_column(std::string_view line);

}  // namespace natter::ui
