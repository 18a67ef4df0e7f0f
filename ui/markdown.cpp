// Line-by-line Markdown-lite renderer; see markdown.h for what it understands.
#include "ui/markdown.h"

#include <cctype>
#include <string>

#include "ui/text.h"

namespace natter::ui {

namespace {

std::size_t leading_spaces(std::string_view line) {
    std::size_t n = 0;
    while (n < line.size() && line[n] == ' ') ++n;
    return n;
}

bool is_fence(std::string_view line) {
    const std::string_view rest = line.substr(leading_spaces(line));
    return rest.starts_with("```") || rest.starts_with("~~~");
}

// "## Title" -> "Title"; false when the line is not a heading.
bool heading_text(std::string_view line, std::string_view& text) {
    std::size_t hashes = 0;
    while (hashes < line.size() && line[hashes] == '#') ++hashes;
    if (hashes == 0 || hashes > 6 || hashes >= line.size() || line[hashes] != ' ') return false;
    text = line.substr(hashes + 1);
    return true;
}

// "  - item" / "3. item": the marker as shown and where the item's text starts.
bool list_marker(std::string_view line, std::string& marker, std::size_t& text_start) {
    const std::size_t indent = leading_spaces(line);
    std::size_t p = indent;
    if (p < line.size() && (line[p] == '-' || line[p] == '*' || line[p] == '+')) {
        marker = "\u2022";  // a bullet reads better than the ASCII marker
        ++p;
    } else {
        while (p < line.size() && std::isdigit(static_cast<unsigned char>(line[p]))) ++p;
        if (p == indent || p - indent > 9 || p >= line.size() || (line[p] != '.' && line[p] != ')')) return false;
        ++p;
        marker = std::string(line.substr(indent, p - indent));
    }
    if (p >= line.size() || line[p] != ' ') return false;
    marker.insert(0, indent, ' ');
    text_start = p + 1;
    return true;
}

}  // namespace

void render_inline(std::string_view line, Style base, StyledLine& out) {
    std::size_t i = 0;
    std::string plain;
    const auto flush = [&] {
        out.add(std::move(plain), base);
        plain.clear();
    };
    while (i < line.size()) {
        const bool bold = line.substr(i).starts_with("**") || line.substr(i).starts_with("__");
        if (bold) {
            const std::size_t close = line.find(line.substr(i, 2), i + 2);
            if (close != std::string_view::npos && close > i + 2) {
                flush();
                out.add(std::string(line.substr(i + 2, close - i - 2)), Style::Bold);
                i = close + 2;
                continue;
            }
        } else if (line[i] == '`') {
            const std::size_t close = line.find('`', i + 1);
            if (close != std::string_view::npos && close > i + 1) {
                flush();
                out.add(std::string(line.substr(i + 1, close - i - 1)), Style::Code);
                i = close + 1;
                continue;
            }
        }
        plain += line[i++];
    }
    flush();
}

std::vector<StyledLine> render_markdown(std::string_view text) {
    std::vector<StyledLine> lines;
    bool in_code = false;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view line = text.substr(start, nl - start);
        start = nl + 1;

        StyledLine out;
        std::string_view heading;
        std::string marker;
        std::size_t item_start = 0;
        if (is_fence(line)) {
            in_code = !in_code;
            out.add(std::string(line), Style::CodeFence);
        } else if (in_code) {
            out.add(std::string(line), Style::Code);
        } else if (heading_text(line, heading)) {
            out.add(std::string(heading), Style::Heading);
        } else if (list_marker(line, marker, item_start)) {
            out.indent = display_width(marker) + 1;
            out.add(marker, Style::Bullet);
            out.add(" ", Style::Plain);
            render_inline(line.substr(item_start), Style::Plain, out);
        } else {
            render_inline(line, Style::Plain, out);
        }
        lines.push_back(std::move(out));
    }
    return lines;
}

}  // namespace natter::ui
