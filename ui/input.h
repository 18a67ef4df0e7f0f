#pragma once
// The input line: GNU readline does the editing (emacs or vi keys, ~/.inputrc, history,
// Ctrl-R), fed key by key through its callback interface; it never touches the terminal.
// We draw its buffer ourselves inside the ncurses screen.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natter::ui {

// The input area as rows of text, and where the cursor is in them.
struct InputView {
    std::vector<std::string> rows;
    int cursor_row = 0;
    int cursor_col = 0;
};

// Lays out `prompt` + `buffer` at `width` cells, breaking at newlines in the buffer and
// wherever a row is full (never inside a wide character). Rows after a newline are
// indented by the prompt's width so a multi-line message lines up. `point` is the cursor's
// byte offset into `buffer`.
InputView layout_input(std::string_view prompt, std::string_view buffer, std::size_t point, int width);

// Readline wrapped for an event loop. There is one readline, so there may be one of these.
class LineEditor {
public:
    // on_line gets each accepted message; nullopt when Ctrl-D is pressed on an empty line.
    using LineHandler = std::function<void(std::optional<std::string>)>;
    // Shows possible completions (readline would print them below the prompt).
    using MatchesHandler = std::function<void(const std::vector<std::string>&)>;

    LineEditor(std::string prompt, LineHandler on_line, MatchesHandler on_matches);
    ~LineEditor();
    LineEditor(const LineEditor&) = delete;
    LineEditor& operator=(const LineEditor&) = delete;

    // Bytes as a terminal would send them (UTF-8 text, escape sequences for keys).
    void feed(std::string_view bytes);
    // Inserts text at the cursor as typed text, newlines included (a paste).
    void insert(std::string_view text);
    // Replaces the whole input line, cursor at the end.
    void set_text(std::string_view text);
    // Ctrl-C: leaves a history search, else empties the line. False if there was nothing to do.
    bool interrupt();

    std::string text() const;
    std::size_t point() const;     // cursor, byte offset into text()
    std::string prompt() const;    // the prompt now shown (readline swaps it during Ctrl-R)
    bool empty() const { return text().empty(); }
    bool searching() const;        // inside an incremental history search

    // Set whenever readline changed what should be shown; the owner clears it after drawing.
    bool changed = true;

private:
    std::string prompt_;
};

}  // namespace natter::ui
