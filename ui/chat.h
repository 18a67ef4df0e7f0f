#pragma once
// Inside the full-screen chat: the controller that ties the session, the screen, the
// input line and the scrollback together. Private to ui/ (tui.cpp runs it; the slash
// commands are in slash_commands.cpp).
#include <deque>
#include <filesystem>
#include <optional>
#include <string>

#include "session/session.h"
#include "session/chat_commands.h"
#include "ui/input.h"
#include "ui/keys.h"
#include "ui/layout.h"
#include "ui/screen.h"
#include "ui/scroll.h"
#include "ui/status.h"
#include "ui/tui.h"

namespace natter::ui {

class Chat {
public:
    Chat(Session& session, const TuiOptions& options);
    ~Chat();
    void run();  // until the user quits
    // Cancels a running reply and autosaves; the file written, or empty if nothing was new.
    std::filesystem::path finish();

private:
    // Text shown over the scrollback (help, the prompt, lists) until a key dismisses it.
    struct Pager {
        std::string title;
        std::string text;
        int top = 0;
    };

    // input
    void on_line(std::optional<std::string> line);
    void send(const std::string& text);
    void retry_failed_reply();
    void handle_key(const KeyEvent& key);
    bool handle_pager_key(const KeyEvent& key);
    void handle_action(Action action);
    void feed_readline(const KeyEvent& key);
    void handle_signals();

    // slash_commands.cpp
    void run_command(const ParsedInput& input);
    void command_copy();

    // output
    void drain_events();
    void refresh_turns();
    void draw();
    void draw_scrollback(int height);
    void draw_pager(int height);
    StatusInfo status_info() const;
    void notify(std::string text, bool error = false);
    void open_pager(std::string title, std::string text);

    Session& session_;
    Screen screen_;
    LineEditor editor_;
    Scrollback scrollback_;
    ScrollView view_;
    std::optional<Pager> pager_;
    std::optional<RowAnchor> resize_anchor_;  // where the reader was before a resize
    int view_height_ = 1;

    std::string message_;  // the one-line message above the status line
    std::deque<std::string> notices_;  // every message shown there, for F12
    bool message_error_ = false;
    bool quit_ = false;
    bool editing_last_ = false;  // the input holds the last message, from /edit
    bool pasting_ = false;
    std::string paste_;

    // The last reply's numbers for the status line, and prompt progress.
    std::optional<ReplyStats> last_stats_;
    bool replying_ = false;
    bool show_stats_ = false;  // F11: each reply's numbers under it
    bool evaluating_ = false;
    int progress_done_ = 0;
    int progress_total_ = 0;
    std::string model_name_;
    std::string quant_;

    int wake_pipe_[2] = {-1, -1};  // the generator's events wake the loop through this
    bool dirty_ = true;
};

}  // namespace natter::ui
