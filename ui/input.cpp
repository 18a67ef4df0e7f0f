// Readline's callback interface driven from our own key queue. Readline keeps its state in
// globals, so the glue below does too; LineEditor makes sure there is only one user.
#include "ui/input.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
// readline's headers need stdio first.
#include <readline/history.h>
#include <readline/readline.h>

#include "session/chat_commands.h"
#include "ui/text.h"

namespace natter::ui {

InputView layout_input(std::string_view prompt, std::string_view buffer, std::size_t point, int width) {
    width = std::max(width, 2);
    const int prompt_width = display_width(prompt);
    const int indent = prompt_width * 2 <= width ? prompt_width : 0;
    InputView view;
    view.rows.emplace_back(prompt);
    int col = prompt_width;
    const auto new_row = [&] {
        view.rows.emplace_back(static_cast<std::size_t>(indent), ' ');
        col = indent;
    };
    bool placed = false;
    for (const Glyph& g : split_glyphs(buffer)) {
        if (!placed && g.begin >= point) {
            if (col >= width) new_row();
            view.cursor_row = static_cast<int>(view.rows.size()) - 1;
            view.cursor_col = col;
            placed = true;
        }
        if (g.first == '\n') {
            new_row();
            continue;
        }
        // A control character typed with Ctrl-V shows as ^X, as in a shell.
        std::string shown(buffer.substr(g.begin, g.end - g.begin));
        int w = g.width;
        if (g.first < 0x20 || g.first == 0x7F) {
            shown = std::string("^") + static_cast<char>(g.first == 0x7F ? '?' : g.first + 64);
            w = 2;
        }
        if (col + w > width && col > indent) new_row();
        view.rows.back() += shown;
        col += w;
    }
    if (!placed) {
        if (col >= width) new_row();
        view.cursor_row = static_cast<int>(view.rows.size()) - 1;
        view.cursor_col = col;
    }
    return view;
}

namespace {

struct Glue {
    LineEditor* editor = nullptr;
    LineEditor::LineHandler on_line;
    LineEditor::MatchesHandler on_matches;
    std::string queue;  // bytes readline has yet to read
    std::size_t next = 0;
    bool in_handler = false;
    std::optional<std::string> deferred_text;  // set_text() called from inside the handler
    FILE* sink = nullptr;                       // readline's own output goes nowhere
};
Glue glue;

int queue_getc(FILE*) {
    if (glue.next < glue.queue.size()) return static_cast<unsigned char>(glue.queue[glue.next++]);
    return EOF;  // never reached: we only call readline while bytes are queued
}

int queue_available() { return glue.next < glue.queue.size() ? 1 : 0; }
void no_prep_terminal(int) {}  // ncurses owns the terminal modes
void no_deprep_terminal() {}
void mark_changed() {
    if (glue.editor != nullptr) glue.editor->changed = true;
}

void handle_line(char* line) {
    std::optional<std::string> text;
    if (line != nullptr) {
        text = line;
        std::free(line);
    }
    glue.in_handler = true;
    glue.on_line(std::move(text));
    glue.in_handler = false;
}

// Enter: a line ending in a backslash continues on a new line; otherwise send.
int accept_or_continue(int count, int key) {
    if (rl_end > 0 && rl_line_buffer[rl_end - 1] == '\\') {
        rl_delete_text(rl_end - 1, rl_end);
        rl_point = rl_end;
        rl_insert_text("\n");
        return 0;
    }
    return rl_newline(count, key);
}

int insert_newline(int, int) {
    rl_insert_text("\n");
    return 0;
}

// Tab completes slash commands; arguments of /save and /load complete as file names.
std::vector<std::string> candidates;
char* next_candidate(const char* text, int state) {
    static std::size_t index;
    if (state == 0) index = 0;
    while (index < candidates.size()) {
        const std::string& c = candidates[index++];
        if (c.starts_with(text)) return strdup(c.c_str());
    }
    return nullptr;
}

char** complete(const char* text, int start, int) {
    const std::string_view line(rl_line_buffer, static_cast<std::size_t>(rl_end));
    if (start > 0 && (line.starts_with("/save ") || line.starts_with("/load "))) return nullptr;  // file names
    rl_attempted_completion_over = 1;
    if (start != 0 || !std::string_view(text).starts_with("/")) return nullptr;
    candidates.clear();
    for (const CommandInfo& c : command_table()) candidates.push_back("/" + c.name);
    return rl_completion_matches(text, next_candidate);
}

void show_matches(char** matches, int count, int) {
    std::vector<std::string> list;
    for (int i = 1; i <= count; ++i) list.emplace_back(matches[i]);
    if (glue.on_matches) glue.on_matches(list);
}

void bind_everywhere(const char* keys, rl_command_func_t* fn, std::initializer_list<Keymap> maps) {
    for (Keymap map : maps) rl_bind_keyseq_in_map(keys, fn, map);
}

}  // namespace

LineEditor::LineEditor(std::string prompt, LineHandler on_line, MatchesHandler on_matches) : prompt_(std::move(prompt)) {
    glue.editor = this;
    glue.on_line = std::move(on_line);
    glue.on_matches = std::move(on_matches);
    if (glue.sink == nullptr) glue.sink = std::fopen("/dev/null", "w");
    rl_readline_name = "natter";  // for $if natter in ~/.inputrc
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_outstream = glue.sink;
    rl_getc_function = queue_getc;
    rl_input_available_hook = queue_available;
    rl_prep_term_function = no_prep_terminal;
    rl_deprep_term_function = no_deprep_terminal;
    rl_redisplay_function = mark_changed;
    rl_attempted_completion_function = complete;
    rl_completion_display_matches_hook = show_matches;
    rl_completion_query_items = -1;  // never stop to ask "display all N possibilities?"
    rl_initialize();
    rl_variable_bind("enable-bracketed-paste", "off");  // pastes arrive through the screen
    rl_variable_bind("bell-style", "none");
    // An entry recalled with Up and edited, then left, stays as it was sent: readline would
    // otherwise keep the edit in the history (and in the history file).
    rl_variable_bind("revert-all-at-newline", "on");
    rl_add_defun("natter-accept-or-continue", accept_or_continue, -1);
    rl_add_defun("natter-insert-newline", insert_newline, -1);
    const auto all = {emacs_standard_keymap, vi_insertion_keymap, vi_movement_keymap};
    bind_everywhere("\r", accept_or_continue, all);
    bind_everywhere("\n", accept_or_continue, all);
    bind_everywhere("\\e\\r", insert_newline, {emacs_standard_keymap});
    bind_everywhere("\\e\\n", insert_newline, {emacs_standard_keymap});
    rl_callback_handler_install(prompt_.c_str(), handle_line);
}

LineEditor::~LineEditor() {
    rl_callback_handler_remove();
    glue.editor = nullptr;
    glue.on_line = nullptr;
    glue.on_matches = nullptr;
}

void LineEditor::feed(std::string_view bytes) {
    glue.queue.assign(bytes);
    glue.next = 0;
    while (glue.next < glue.queue.size()) {
        const std::size_t before = glue.next;
        rl_callback_read_char();
        if (glue.next == before) ++glue.next;  // readline took nothing: do not spin
    }
    glue.queue.clear();
    glue.next = 0;
    if (glue.deferred_text) {
        std::string text = std::move(*glue.deferred_text);
        glue.deferred_text.reset();
        set_text(text);
    }
    changed = true;
}

void LineEditor::insert(std::string_view text) {
    rl_insert_text(std::string(text).c_str());
    changed = true;
}

void LineEditor::set_text(std::string_view text) {
    if (glue.in_handler) {  // readline resets the line after the handler returns
        glue.deferred_text = std::string(text);
        return;
    }
    rl_replace_line(std::string(text).c_str(), 1);
    rl_point = rl_end;
    changed = true;
}

bool LineEditor::interrupt() {
    if (searching()) {
        feed("\x07");  // Ctrl-G leaves the search and restores the line
        return true;
    }
    if (rl_end == 0) return false;
    set_text("");
    return true;
}

std::string LineEditor::text() const { return std::string(rl_line_buffer, static_cast<std::size_t>(rl_end)); }
std::size_t LineEditor::point() const { return static_cast<std::size_t>(rl_point); }
std::string LineEditor::prompt() const { return rl_display_prompt != nullptr ? rl_display_prompt : prompt_; }
bool LineEditor::searching() const { return RL_ISSTATE(RL_STATE_ISEARCH) != 0; }

}  // namespace natter::ui
