#pragma once
// The terminal, through ncursesw: start-up and tear-down, colours (or none), reading keys
// (bracketed pastes, the mouse wheel and resizes included) and drawing styled rows.
#include <string>
#include <string_view>
#include <vector>

#include "ui/styled.h"
#include "ui/text.h"

namespace natter::ui {

enum class ColorMode { Auto, Always, Never };

struct KeyEvent {
    enum class Type { Char, Key, PasteBegin, PasteEnd, Resize, WheelUp, WheelDown };
    Type type = Type::Char;
    int code = 0;  // Char: a Unicode code point; Key: an ncurses KEY_* code
};

// True when colours should be used: not with --color never, not under NO_COLOR (any
// non-empty value, see no-color.org) unless --color always, and only if the terminal has them.
bool colors_wanted(ColorMode mode, const char* no_color_env);

class Screen {
public:
    explicit Screen(ColorMode mode);
    ~Screen();
    Screen(const Screen&) = delete;
    Screen& operator=(const Screen&) = delete;

    int rows() const;
    int cols() const;
    bool colors() const { return colors_; }

    // Every key waiting now (never blocks). Call when stdin is readable.
    std::vector<KeyEvent> read_keys();

    void begin_frame();  // an empty frame to draw on
    // Draws a row of styled text at `row`, cut at the window's right edge.
    void draw(int row, const StyledLine& line);
    void draw(int row, std::string_view text, Style style);
    // A full-width bar in reverse video (the status line).
    void draw_bar(int row, std::string_view text);
    void place_cursor(int row, int col);
    void show();  // sends the frame to the terminal

    // Bytes for the terminal itself (an OSC 52 clipboard sequence), after the frame.
    void write_raw(std::string_view bytes);
    // Ctrl-Z: give the terminal back, stop, and take it again when continued.
    void suspend();

private:
    int attr(Style style) const;
    void terminal_modes(bool on);
    bool colors_ = false;
    Utf8Assembler utf8_;  // keyboard bytes into characters
};

}  // namespace natter::ui
