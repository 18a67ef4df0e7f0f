// Turn -> rows, and the cached scrollback built from them.
#include "ui/layout.h"

#include <algorithm>
#include <cmath>

#include "ui/markdown.h"
#include "ui/text.h"
#include "ui/wrap.h"

namespace natter::ui {

namespace {

StyledLine label_row(const Turn& turn, const std::string& assistant_label, int width) {
    StyledLine label;
    const bool user = turn.who == Turn::Who::User;
    std::string name = user ? "You" : assistant_label;
    const std::string note = turn.in_context ? "" : "  (no longer in the context window)";
    label.add(truncate_to_width(name, width), user ? Style::UserLabel : Style::AssistantLabel);
    const int room = width - display_width(label.text());
    if (!note.empty() && room > 0) label.add(truncate_to_width(note, room), Style::Dim);
    return label;
}

std::vector<StyledLine> body_lines(const Turn& turn) {
    const std::string text = sanitize(turn.text);
    if (turn.who == Turn::Who::Assistant) return render_markdown(text);
    std::vector<StyledLine> lines;
    for (const std::string& row : split_lines(text)) {
        StyledLine line;
        line.add(row, Style::UserText);
        lines.push_back(std::move(line));
    }
    return lines;
}

}  // namespace

std::vector<StyledLine> layout_turn(const Turn& turn, const std::string& assistant_label, int width) {
    std::vector<StyledLine> rows{label_row(turn, assistant_label, width)};
    if (turn.streaming && turn.text.empty()) {
        StyledLine waiting;
        waiting.add("\u2026", Style::Dim);  // the reply has not started yet
        rows.push_back(waiting);
    } else {
        for (const StyledLine& line : body_lines(turn)) {
            for (StyledLine& row : wrap(line, width)) rows.push_back(std::move(row));
        }
    }
    if (turn.interrupted) {
        StyledLine note;
        note.add("[interrupted]", Style::Dim);
        rows.push_back(note);
    }
    if (!turn.stats.empty()) {
        StyledLine stats;
        stats.add(turn.stats, Style::Dim);
        for (StyledLine& row : wrap(stats, width)) rows.push_back(std::move(row));
    }
    rows.emplace_back();
    return rows;
}

void Scrollback::set_assistant_label(std::string label) {
    if (label == assistant_label_) return;
    assistant_label_ = std::move(label);
    for (Laid& l : laid_) relayout(l);
}

void Scrollback::relayout(Laid& laid) const { laid.rows = layout_turn(laid.turn, assistant_label_, width_); }

void Scrollback::set_turns(const std::vector<Turn>& turns) {
    laid_.resize(turns.size());
    for (std::size_t i = 0; i < turns.size(); ++i) {
        if (i < turns_.size() && turns_[i] == turns[i] && !laid_[i].rows.empty()) continue;
        laid_[i].turn = turns[i];
        relayout(laid_[i]);
    }
    turns_ = turns;
}

void Scrollback::set_width(int width) {
    width = std::max(width, 1);
    if (width == width_) return;
    width_ = width;
    for (Laid& l : laid_) relayout(l);
}

int Scrollback::total_rows() const {
    int n = 0;
    for (const Laid& l : laid_) n += static_cast<int>(l.rows.size());
    return n;
}

std::vector<StyledLine> Scrollback::rows(int first, int count) const {
    std::vector<StyledLine> out;
    int row = 0;
    for (const Laid& l : laid_) {
        const int n = static_cast<int>(l.rows.size());
        if (row + n > first) {
            for (int i = std::max(0, first - row); i < n && static_cast<int>(out.size()) < count; ++i) {
                out.push_back(l.rows[static_cast<std::size_t>(i)]);
            }
        }
        row += n;
        if (static_cast<int>(out.size()) >= count) break;
    }
    return out;
}

RowAnchor Scrollback::anchor_of(int row) const {
    int start = 0;
    for (std::size_t t = 0; t < laid_.size(); ++t) {
        const int n = static_cast<int>(laid_[t].rows.size());
        if (row < start + n) return RowAnchor{t, static_cast<double>(row - start) / n};
        start += n;
    }
    return RowAnchor{laid_.size(), 0};
}

int Scrollback::row_of(const RowAnchor& anchor) const {
    int start = 0;
    for (std::size_t t = 0; t < laid_.size() && t < anchor.turn; ++t) start += static_cast<int>(laid_[t].rows.size());
    if (anchor.turn >= laid_.size()) return start;
    const int n = static_cast<int>(laid_[anchor.turn].rows.size());
    return start + std::min(n - 1, static_cast<int>(std::lround(anchor.fraction * n)));
}

}  // namespace natter::ui
