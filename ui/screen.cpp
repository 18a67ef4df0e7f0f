// ncursesw set-up, colours that read on dark and light backgrounds, key reading, drawing.
#include "ui/screen.h"

#include <curses.h>
#include <unistd.h>

#include <clocale>
#include <csignal>
#include <cstdlib>

#include "ui/text.h"

namespace natter::ui {

namespace {

// Key codes of our own for the bracketed paste markers (ncurses matches the sequences).
constexpr int kPasteBegin = KEY_MAX + 1;
constexpr int kPasteEnd = KEY_MAX + 2;

// Colour pairs. Only the terminal's default background is used (-1) and foregrounds that
// stay readable on both black and white: green, magenta, cyan, red.
enum Pair : short { kGreen = 1, kMagenta, kCyan, kRed };

void write_all(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

bool colors_wanted(ColorMode mode, const char* no_color_env) {
    if (mode == ColorMode::Never) return false;
    if (mode == ColorMode::Always) return true;
    return no_color_env == nullptr || *no_color_env == '\0';
}

Screen::Screen(ColorMode mode) {
    std::setlocale(LC_ALL, "");
    use_utf8_ctype();
    set_escdelay(25);  // Alt-x arrives as ESC x; a lone ESC need not wait long
    initscr();
    raw();  // Ctrl-C, Ctrl-Z and Ctrl-D arrive as keys, not signals
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    meta(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    define_key("\033[200~", kPasteBegin);
    define_key("\033[201~", kPasteEnd);
    mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, nullptr);  // the wheel only
    mouseinterval(0);
    if (colors_wanted(mode, std::getenv("NO_COLOR")) && has_colors()) {
        start_color();
        use_default_colors();
        init_pair(kGreen, COLOR_GREEN, -1);
        init_pair(kMagenta, COLOR_MAGENTA, -1);
        init_pair(kCyan, COLOR_CYAN, -1);
        init_pair(kRed, COLOR_RED, -1);
        colors_ = true;
    }
    refresh();
    terminal_modes(true);
}

Screen::~Screen() {
    terminal_modes(false);
    endwin();
}

void Screen::terminal_modes(bool on) { write_all(on ? "\033[?2004h" : "\033[?2004l"); }  // bracketed paste

int Screen::rows() const { return LINES; }
int Screen::cols() const { return COLS; }

int Screen::attr(Style style) const {
    const auto color = [&](short pair) { return colors_ ? static_cast<int>(COLOR_PAIR(pair)) : 0; };
    switch (style) {
        case Style::Plain: return A_NORMAL;
        case Style::Bold: return A_BOLD;
        case Style::Heading: return A_BOLD | A_UNDERLINE;
        case Style::Code: return color(kCyan);
        case Style::CodeFence: return A_DIM;
        case Style::Bullet: return colors_ ? color(kMagenta) : A_BOLD;
        case Style::UserLabel: return A_BOLD | (colors_ ? color(kGreen) : A_UNDERLINE);
        case Style::AssistantLabel: return A_BOLD | (colors_ ? color(kMagenta) : A_UNDERLINE);
        case Style::UserText: return A_BOLD;
        case Style::Dim: return A_DIM;
        case Style::Error: return A_BOLD | color(kRed);
    }
    return A_NORMAL;
}

std::vector<KeyEvent> Screen::read_keys() {
    std::vector<KeyEvent> keys;
    const auto characters = [&keys](const std::vector<char32_t>& cps) {
        for (const char32_t cp : cps) keys.push_back({KeyEvent::Type::Char, static_cast<int>(cp)});
    };
    // Bytes, not wget_wch: it drops a byte that is not valid UTF-8 without a word, and a
    // paste must arrive whole (the assembler turns such bytes into U+FFFD).
    int code = 0;
    while ((code = wgetch(stdscr)) != ERR) {
        if (code >= 0 && code < 0x100) {
            characters(utf8_.push(static_cast<unsigned char>(code)));
            continue;
        }
        characters(utf8_.flush());
        if (code == KEY_RESIZE) {
            keys.push_back({KeyEvent::Type::Resize, 0});
        } else if (code == kPasteBegin || code == kPasteEnd) {
            keys.push_back({code == kPasteBegin ? KeyEvent::Type::PasteBegin : KeyEvent::Type::PasteEnd, 0});
        } else if (code == KEY_MOUSE) {
            MEVENT ev;
            if (getmouse(&ev) != OK) continue;
            if (ev.bstate & BUTTON4_PRESSED) keys.push_back({KeyEvent::Type::WheelUp, 0});
            if (ev.bstate & BUTTON5_PRESSED) keys.push_back({KeyEvent::Type::WheelDown, 0});
        } else {
            keys.push_back({KeyEvent::Type::Key, code});
        }
    }
    return keys;
}

void Screen::begin_frame() {
    attrset(A_NORMAL);
    erase();
}

void Screen::draw(int row, const StyledLine& line) {
    int room = COLS;
    move(row, 0);
    for (const Span& span : line.spans) {
        if (room <= 0) break;
        const std::string text = display_width(span.text) > room ? truncate_to_width(span.text, room) : span.text;
        attrset(attr(span.style));
        addstr(text.c_str());
        room -= display_width(text);
    }
    attrset(A_NORMAL);
    if (room > 0) clrtoeol();  // a row drawn over another (the scroll marker) leaves nothing of it
}

void Screen::draw(int row, std::string_view text, Style style) {
    StyledLine line;
    line.add(std::string(text), style);
    draw(row, line);
}

void Screen::draw_bar(int row, std::string_view text) {
    const std::string shown = truncate_to_width(text, COLS);
    attrset(A_REVERSE);
    mvaddstr(row, 0, shown.c_str());
    for (int col = display_width(shown); col < COLS; ++col) addch(' ');
    attrset(A_NORMAL);
}

void Screen::place_cursor(int row, int col) { move(row, std::min(col, COLS - 1)); }

void Screen::show() {
    wnoutrefresh(stdscr);
    doupdate();
}

void Screen::write_raw(std::string_view bytes) { write_all(bytes); }

void Screen::suspend() {
    terminal_modes(false);
    def_prog_mode();
    endwin();
    ::raise(SIGSTOP);  // back here after `fg`
    reset_prog_mode();
    terminal_modes(true);
    clearok(curscr, TRUE);
    refresh();
}

}  // namespace natter::ui
