#pragma once
// "Markdown-lite" for replies as they stream: fenced code blocks, # headings, **bold**,
// `inline code` and - / * / 1. list items. Rendering the whole (partial) text again after
// every piece is cheap and keeps it stateless: an unclosed fence makes the rest code, an
// unclosed ** stays literal until its partner arrives.
#include <string_view>
#include <vector>

#include "ui/styled.h"

namespace natter::ui {

// One StyledLine per source line (not yet wrapped). `text` must be sanitized.
std::vector<StyledLine> render_markdown(std::string_view text);

// Inline markup only (**bold**, `code`) on one line, other text in `base`.
void render_inline(std::string_view line, Style base, StyledLine& out);

}  // namespace natter::ui
