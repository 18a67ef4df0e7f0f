// Greedy word wrapping over glyphs, with the line-break rules Chinese and Japanese need.
#include "ui/wrap.h"

#include "ui/text.h"

namespace natter::ui {

void StyledLine::add(std::string piece, Style style) {
    if (piece.empty()) return;
    if (!spans.empty() && spans.back().style == style) {
        spans.back().text += piece;
    } else {
        spans.push_back(Span{std::move(piece), style});
    }
}

std::string StyledLine::text() const {
    std::string out;
    for (const Span& s : spans) out += s.text;
    return out;
}

namespace {

struct Cell {
    std::string_view bytes;
    int width;
    char32_t first;
    Style style;
};

bool is_space(const Cell& c) { return c.first == ' '; }

// Closing punctuation may not start a row, opening punctuation may not end one
// (the core of the CJK "kinsoku" rules, plus their ASCII cousins).
bool no_break_before(char32_t cp) {
    static constexpr std::u32string_view kClosing =
        U"\u3002\uFF0C\u3001\uFF0E\uFF01\uFF1F\uFF09\u300D\u300F\u3011\u3009\u300B\uFF1A\uFF1B"
        U"\u30FB\u30FC\u2026\uFF5E,.!?;:)]}%";
    return kClosing.find(cp) != std::u32string_view::npos;
}

bool no_break_after(char32_t cp) {
    static constexpr std::u32string_view kOpening = U"\uFF08\u300C\u300E\u3010\u3008\u300A([{";
    return kOpening.find(cp) != std::u32string_view::npos;
}

// May a row end between cells[j - 1] and cells[j]?
bool can_break_before(const std::vector<Cell>& cells, std::size_t j) {
    const Cell& prev = cells[j - 1];
    const Cell& cur = cells[j];
    if (is_space(prev) || is_space(cur)) return true;
    if (!breaks_anywhere(prev.first) && !breaks_anywhere(cur.first)) return false;
    return !no_break_before(cur.first) && !no_break_after(prev.first);
}

std::vector<Cell> to_cells(const StyledLine& line) {
    std::vector<Cell> cells;
    for (const Span& span : line.spans) {
        const std::string_view text = span.text;
        for (const Glyph& g : split_glyphs(text)) {
            cells.push_back(Cell{text.substr(g.begin, g.end - g.begin), g.width, g.first, span.style});
        }
    }
    return cells;
}

// The end (exclusive) of the row that starts at cells[begin] and has `avail` cells.
std::size_t row_end(const std::vector<Cell>& cells, std::size_t begin, int avail) {
    std::size_t j = begin;
    std::size_t last_break = begin;
    int col = 0;
    while (j < cells.size() && col + cells[j].width <= avail) {
        col += cells[j].width;
        ++j;
        if (j < cells.size() && can_break_before(cells, j)) last_break = j;
    }
    if (j == cells.size()) return j;
    if (j == begin) return begin + 1;  // one glyph wider than the whole row
    if (is_space(cells[j])) return j;
    return last_break > begin ? last_break : j;  // no break point: cut the long word
}

StyledLine make_row(const std::vector<Cell>& cells, std::size_t begin, std::size_t end, int indent) {
    while (end > begin && is_space(cells[end - 1])) --end;
    StyledLine row;
    if (indent > 0) row.add(std::string(static_cast<std::size_t>(indent), ' '), Style::Plain);
    for (std::size_t i = begin; i < end; ++i) row.add(std::string(cells[i].bytes), cells[i].style);
    return row;
}

}  // namespace

std::vector<StyledLine> wrap(const StyledLine& line, int width) {
    if (width < 1) width = 1;
    const std::vector<Cell> cells = to_cells(line);
    // A hanging indent is only worth it while it leaves at least half the row for text.
    const int indent = line.indent * 2 <= width ? line.indent : 0;
    std::vector<StyledLine> rows;
    std::size_t i = 0;
    bool first = true;
    while (i < cells.size()) {
        if (!first) {
            while (i < cells.size() && is_space(cells[i])) ++i;
            if (i == cells.size()) break;
        }
        const int row_indent = first ? 0 : indent;
        const std::size_t end = row_end(cells, i, width - row_indent);
        rows.push_back(make_row(cells, i, end, row_indent));
        i = end;
        first = false;
    }
    if (rows.empty()) rows.emplace_back();
    return rows;
}

std::vector<std::string> wrap_text(std::string_view text, int width) {
    std::vector<std::string> rows;
    for (const std::string& source : split_lines(text)) {
        StyledLine line;
        line.add(source, Style::Plain);
        for (const StyledLine& row : wrap(line, width)) rows.push_back(row.text());
    }
    return rows;
}

int second_column(std::string_view line) {
    std::size_t i = line.find_first_not_of(' ');
    if (i == std::string_view::npos) return 0;
    const std::size_t gap = line.find("  ", i);
    if (gap == std::string_view::npos) return 0;
    const std::size_t text = line.find_first_not_of(' ', gap);
    return text == std::string_view::npos ? 0 : display_width(line.substr(0, text));
}

}  // namespace natter::ui
