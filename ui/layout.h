#pragma once
// The scrollback: the conversation as rows of styled text at the window width. Each turn
// is laid out once per width and cached, so a streaming reply only re-lays itself.
#include <string>
#include <vector>

#include "ui/styled.h"

namespace natter::ui {

// One turn as the screen shows it (a copy of the session's message, plus the reply that
// is still streaming).
struct Turn {
    enum class Who { User, Assistant };
    Who who = Who::User;
    std::string text;
    bool interrupted = false;  // cancelled or failed: the text is partial
    bool streaming = false;    // the reply is still arriving
    bool in_context = true;    // false once the context window dropped it
    std::string stats;         // a finished reply's numbers, when they are shown (F11); else empty
    bool operator==(const Turn&) const = default;
};

// The rows of one turn: a label row, the text (user text verbatim, replies as Markdown
// lite), an "[interrupted]" note when cut short, the reply's numbers when shown, then one
// blank separator row.
std::vector<StyledLine> layout_turn(const Turn& turn, const std::string& assistant_label, int width);

// Where a row is, independent of the width: the turn and how far into it (0..1).
// Resizing keeps the reader at the same place in the conversation.
struct RowAnchor {
    std::size_t turn = 0;
    double fraction = 0;
};

class Scrollback {
public:
    void set_assistant_label(std::string label);
    // Replaces the turns; only turns that differ from the old ones are laid out again.
    void set_turns(const std::vector<Turn>& turns);
    const std::vector<Turn>& turns() const { return turns_; }

    void set_width(int width);  // re-lays everything out when it changes
    int width() const { return width_; }
    int total_rows() const;
    // Rows [first, first + count) of the whole conversation (fewer at the end).
    std::vector<StyledLine> rows(int first, int count) const;

    RowAnchor anchor_of(int row) const;
    int row_of(const RowAnchor& anchor) const;

private:
    struct Laid {
        Turn turn;
        std::vector<StyledLine> rows;
    };
    void relayout(Laid& laid) const;
    std::string assistant_label_ = "Assistant";
    int width_ = 80;
    std::vector<Turn> turns_;
    std::vector<Laid> laid_;
};

}  // namespace natter::ui
