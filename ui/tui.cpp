// The chat's event loop: keys in, session events in, one frame out per round.
#include "ui/tui.h"

#include <curses.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "core/paths.h"
#include "ui/chat.h"
#include "ui/help.h"
#include "ui/history.h"
#include "ui/text.h"
#include "ui/wrap.h"

namespace natter::ui {

namespace {

// SIGHUP / SIGTERM (terminal closed, kill) and SIGINT from outside end the loop through
// this pipe, so that the chat is still autosaved.
int signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
    const char c = sig == SIGINT ? 'i' : 'q';
    [[maybe_unused]] const ssize_t n = ::write(signal_pipe[1], &c, 1);
}

void make_pipe(int fds[2]) {
    if (::pipe(fds) != 0) throw Error("cannot create a pipe for the chat's event loop");
    for (int i = 0; i < 2; ++i) ::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    for (int i = 0; i < 2; ++i) ::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
}

void drain(int fd, std::string* into = nullptr) {
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        if (into != nullptr) into->append(buf, static_cast<std::size_t>(n));
    }
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
}

// Keys readline knows by their xterm escape sequences.
std::string readline_sequence(int key) {
    static const std::map<int, std::string> sequences = {
        {KEY_LEFT, "\033[D"},  {KEY_RIGHT, "\033[C"}, {KEY_UP, "\033[A"},    {KEY_DOWN, "\033[B"},
        {KEY_HOME, "\033[H"},  {KEY_END, "\033[F"},   {KEY_DC, "\033[3~"},   {KEY_BACKSPACE, "\x7f"},
        {KEY_ENTER, "\r"},     {KEY_IC, "\033[2~"},
    };
    if (const auto it = sequences.find(key); it != sequences.end()) return it->second;
    const std::string name = keyname(key) != nullptr ? keyname(key) : "";
    if (name == "kLFT5") return "\033[1;5D";  // Ctrl-Left: a word back
    if (name == "kRIT5") return "\033[1;5C";
    if (name == "kDC5") return "\033[3;5~";
    return {};
}

}  // namespace

Chat::Chat(Session& session, const TuiOptions& options)
    : session_(session),
      screen_(options.color),
      editor_(
          "\u203A ", [this](std::optional<std::string> line) { on_line(std::move(line)); },
          [this](const std::vector<std::string>& matches) {
              std::string list;
              for (const auto& m : matches) list += (list.empty() ? "" : "  ") + m;
              notify(list);
          }) {
    model_name_ = session_.model_name();
    quant_ = session_.quant_type();
    scrollback_.set_assistant_label(model_name_);
    scrollback_.set_width(screen_.cols());
    make_pipe(wake_pipe_);
    make_pipe(signal_pipe);
    install_signal_handlers();
    const int wake = wake_pipe_[1];
    session_.set_event_notifier([wake] {
        const char c = 'e';
        [[maybe_unused]] const ssize_t n = ::write(wake, &c, 1);
    });
    load_history(paths::history_file());
    for (const std::string& w : session_.template_warnings()) notify("template " + w, true);
    refresh_turns();
    if (message_.empty()) notify("F1 or /help: keys and commands.  Ctrl-D on an empty line quits.");
}

Chat::~Chat() {
    session_.set_event_notifier(nullptr);
    for (int fd : {wake_pipe_[0], wake_pipe_[1], signal_pipe[0], signal_pipe[1]}) ::close(fd);
    signal_pipe[0] = signal_pipe[1] = -1;
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

void Chat::run() {
    while (!quit_) {
        if (dirty_ || editor_.changed) draw();
        pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}, {signal_pipe[0], POLLIN, 0}};
        const int n = ::poll(fds, 3, -1);
        if (n < 0 && errno != EINTR) break;
        if (fds[1].revents & POLLIN) drain(wake_pipe_[0]);
        drain_events();
        if (fds[2].revents & POLLIN) handle_signals();
        if (fds[0].revents & (POLLHUP | POLLERR)) quit_ = true;  // the terminal is gone
        for (const KeyEvent& key : screen_.read_keys()) {
            handle_key(key);
            if (quit_) break;
        }
    }
}

std::filesystem::path Chat::finish() {
    if (session_.busy()) {
        session_.cancel();
        session_.wait_idle();
    }
    while (session_.poll_event()) {
    }
    save_history(paths::history_file());
    return session_.autosave();
}

void Chat::handle_signals() {
    std::string got;
    drain(signal_pipe[0], &got);
    if (got.find('q') != std::string::npos) quit_ = true;
    if (got.find('i') != std::string::npos) handle_action(Action::Interrupt);
}

// --- input --------------------------------------------------------------------------------

void Chat::on_line(std::optional<std::string> line) {
    if (!line) {  // Ctrl-D on an empty line
        quit_ = true;
        return;
    }
    if (line->find_first_not_of(" \t\n") == std::string::npos) {
        retry_failed_reply();
        return;
    }
    add_to_history(*line);
    const ParsedInput input = parse_input(*line);
    switch (input.kind) {
        case ParsedInput::Kind::Error:
            notify(input.text, true);
            editor_.set_text(*line);  // nothing is lost: fix it and press Enter again
            break;
        case ParsedInput::Kind::Command:
            try {
                run_command(input);
            } catch (const std::exception& e) {
                notify(e.what(), true);
                editor_.set_text(*line);
            }
            break;
        case ParsedInput::Kind::Message:
            send(input.text);
            break;
    }
}

// Enter on an empty line after a reply that failed (a server that could not be reached, an
// error status, a cut stream) asks for it again: retrying is one key.
void Chat::retry_failed_reply() {
    const std::vector<Message> messages = session_.messages();
    if (session_.busy() || messages.empty() || messages.back().stop_reason != StopReason::Error) return;
    try {
        session_.regenerate();
        notify("trying the last reply again");
        view_.to_bottom();
    } catch (const std::exception& e) {
        notify(e.what(), true);
    }
    refresh_turns();
}

void Chat::send(const std::string& text) {
    try {
        if (editing_last_) {
            session_.edit_last(text);
        } else {
            session_.submit(text);
        }
        editing_last_ = false;
        view_.to_bottom();
        message_.clear();
    } catch (const std::exception& e) {
        notify(e.what(), true);
        editor_.set_text(text);
    }
    refresh_turns();
}

void Chat::handle_key(const KeyEvent& key) {
    dirty_ = true;
    using Type = KeyEvent::Type;
    if (pasting_) {
        if (key.type == Type::PasteEnd) {
            pasting_ = false;
            editor_.insert(sanitize(paste_));  // tabs to spaces, no control characters
        } else if (key.type == Type::Char) {
            append_utf8(paste_, key.code == '\r' ? U'\n' : static_cast<char32_t>(key.code));
        } else if (key.type == Type::Key && key.code == KEY_ENTER) {
            paste_ += '\n';
        }
        return;
    }
    if (pager_ && handle_pager_key(key)) return;
    switch (key.type) {
        case Type::PasteBegin:
            pasting_ = true;
            paste_.clear();
            return;
        case Type::PasteEnd: return;
        case Type::Resize:
            if (!view_.following()) resize_anchor_ = scrollback_.anchor_of(view_.first_row(scrollback_.total_rows(), view_height_));
            scrollback_.set_width(screen_.cols());
            return;
        case Type::WheelUp: view_.scroll_up(3, scrollback_.total_rows(), view_height_); return;
        case Type::WheelDown: view_.scroll_down(3, scrollback_.total_rows(), view_height_); return;
        case Type::Char:
        case Type::Key: break;
    }
    const bool control = key.type == Type::Key || key.code < 0x20;
    if (const auto action = control ? action_for_key(key.code) : std::nullopt) {
        // Home and End move in the input line while it has text.
        const bool line_key = (*action == Action::Top || *action == Action::Bottom) && !editor_.empty();
        if (!line_key) {
            handle_action(*action);
            return;
        }
    }
    if (!message_error_) message_.clear();  // typing dismisses hints, errors stay until replaced
    feed_readline(key);
}

void Chat::feed_readline(const KeyEvent& key) {
    std::string bytes;
    if (key.type == KeyEvent::Type::Char) {
        append_utf8(bytes, static_cast<char32_t>(key.code));
    } else {
        bytes = readline_sequence(key.code);
    }
    if (!bytes.empty()) editor_.feed(bytes);
    if (editor_.empty()) message_error_ = false;
}

bool Chat::handle_pager_key(const KeyEvent& key) {
    const int height = std::max(1, view_height_ - 1);
    const bool ch = key.type == KeyEvent::Type::Char;
    const bool k = key.type == KeyEvent::Type::Key;
    if ((ch && (key.code == 'q' || key.code == 27 || key.code == '\r' || key.code == 3)) ||
        (k && (key.code == KEY_F(1) || key.code == KEY_ENTER))) {
        pager_.reset();
        return true;
    }
    int& top = pager_->top;
    if (k && key.code == KEY_UP) top -= 1;
    else if (k && key.code == KEY_DOWN) top += 1;
    else if ((k && key.code == KEY_PPAGE) || key.type == KeyEvent::Type::WheelUp) top -= key.type == KeyEvent::Type::WheelUp ? 3 : height;
    else if ((k && key.code == KEY_NPAGE) || (ch && key.code == ' ') || key.type == KeyEvent::Type::WheelDown) top += key.type == KeyEvent::Type::WheelDown ? 3 : height;
    else if (k && key.code == KEY_HOME) top = 0;
    else if (k && key.code == KEY_END) top = 1 << 20;
    else if (key.type == KeyEvent::Type::Resize) return false;
    else {
        pager_.reset();  // any other key closes the pager and does its usual job
        return false;
    }
    return true;
}

void Chat::handle_action(Action action) {
    const int total = scrollback_.total_rows();
    switch (action) {
        case Action::None: break;
        case Action::Help:
            open_pager("Help: keys and commands (q or Esc closes)", help_text());
            break;
        case Action::Interrupt:
            if (pager_) {
                pager_.reset();
            } else if (session_.busy()) {
                session_.cancel();
            } else if (editor_.interrupt()) {
                editing_last_ = false;
                message_.clear();
            } else {
                notify("Ctrl-C stops a reply. To quit, press Ctrl-D on an empty line or type /quit.");
            }
            break;
        case Action::PageUp: view_.page_up(total, view_height_); break;
        case Action::PageDown: view_.page_down(total, view_height_); break;
        case Action::Top: view_.to_top(total, view_height_); break;
        case Action::Bottom: view_.to_bottom(); break;
        case Action::ScrollUp: view_.scroll_up(3, total, view_height_); break;
        case Action::ScrollDown: view_.scroll_down(3, total, view_height_); break;
        case Action::NextTemplate:
        case Action::PrevTemplate: {
            const std::string next = cycle_template(session_.template_names(), session_.template_name(),
                                                    action == Action::NextTemplate ? 1 : -1);
            try {
                session_.set_template(next);
                notify("template " + next + " (the conversation is re-rendered in it for the next reply)");
            } catch (const std::exception& e) {
                notify(e.what(), true);
            }
            break;
        }
        case Action::Messages: {
            std::string all;
            for (const std::string& m : notices_) all += m + "\n";
            open_pager("Messages of this chat, oldest first (q closes)", all.empty() ? "(none yet)" : all);
            break;
        }
        case Action::Stats:
            show_stats_ = !show_stats_;
            notify(show_stats_ ? "each reply's numbers are shown under it (F11 hides them)" : "reply numbers hidden (F11 shows them)");
            refresh_turns();
            break;
        case Action::Redraw: clearok(curscr, TRUE); break;
        case Action::Suspend: screen_.suspend(); break;
        default: session_.set_settings(adjust(session_.settings(), action)); break;
    }
    dirty_ = true;
}

// --- output -------------------------------------------------------------------------------

void Chat::notify(std::string text, bool error) {
    constexpr std::size_t kKept = 500;
    if (notices_.size() == kKept) notices_.pop_front();
    notices_.push_back((error ? "error: " : "") + text);
    message_ = std::move(text);
    message_error_ = error;
    dirty_ = true;
}

void Chat::open_pager(std::string title, std::string text) { pager_ = Pager{std::move(title), std::move(text), 0}; }

void Chat::drain_events() {
    bool any = false;
    while (const auto e = session_.poll_event()) {
        any = true;
        switch (e->kind) {
            case SessionEvent::Kind::PromptProgress:
                evaluating_ = e->done < e->total;
                progress_done_ = e->done;
                progress_total_ = e->total;
                break;
            case SessionEvent::Kind::FirstToken: evaluating_ = false; break;
            case SessionEvent::Kind::Text: break;
            case SessionEvent::Kind::Finished: evaluating_ = false; break;
            case SessionEvent::Kind::Interrupted:
                evaluating_ = false;
                if (e->reason == StopReason::Error) {
                    notify(e->text, true);
                } else {
                    notify("Stopped; the partial reply is kept. /regen writes it again.");
                }
                break;
            case SessionEvent::Kind::Notice: notify(e->text); break;
        }
    }
    if (any) refresh_turns();
}

void Chat::refresh_turns() {
    const std::vector<Message> messages = session_.messages();
    const bool busy = session_.busy();
    replying_ = busy;
    std::vector<Turn> turns;
    turns.reserve(messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const Message& m = messages[i];
        if (m.role == Role::System) continue;
        Turn t;
        t.who = m.role == Role::User ? Turn::Who::User : Turn::Who::Assistant;
        t.text = m.text;
        t.interrupted = m.interrupted;
        t.in_context = m.in_context;
        t.streaming = busy && i + 1 == messages.size() && m.role == Role::Assistant;
        if (show_stats_ && m.role == Role::Assistant && !t.streaming && m.stop_reason != StopReason::None) {
            t.stats = reply_stats_text(m.stats, m.stop_reason);
        }
        turns.push_back(std::move(t));
    }
    // The status line shows the newest finished reply's speed (also after /load and /undo).
    last_stats_.reset();
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->role == Role::Assistant && it->stats.completion_tokens > 0 && !(busy && it == messages.rbegin())) {
            last_stats_ = it->stats;
            break;
        }
    }
    const int before = scrollback_.total_rows();
    scrollback_.set_turns(turns);
    view_.content_changed(before, scrollback_.total_rows(), view_height_);
    dirty_ = true;
}

StatusInfo Chat::status_info() const {
    StatusInfo info;
    info.model = model_name_;
    info.quant = quant_;
    info.template_name = session_.template_name();
    const SamplingParams p = session_.settings().sampling;
    info.temperature = p.temperature;
    info.top_p = p.top_p;
    info.top_k = p.top_k;
    info.repeat_penalty = p.repeat_penalty;
    const ContextUsage ctx = session_.context();
    info.ctx_used = ctx.used;
    info.ctx_total = ctx.total;
    if (last_stats_ && last_stats_->completion_tokens > 0) {
        info.ttft_ms = last_stats_->ttft_ms;
        info.tokens_per_second = last_stats_->tokens_per_second();
    }
    info.replying = replying_;
    info.evaluating = evaluating_;
    info.progress_done = progress_done_;
    info.progress_total = progress_total_;
    return info;
}

void Chat::draw() {
    dirty_ = false;
    editor_.changed = false;
    screen_.begin_frame();
    const int rows = screen_.rows();
    const int cols = screen_.cols();
    if (rows < 4 || cols < 8) {
        screen_.draw(0, truncate_to_width("window too small", cols), Style::Error);
        screen_.show();
        return;
    }
    const InputView input = layout_input(editor_.prompt(), editor_.text(), editor_.point(), cols);
    const int input_height = std::min(static_cast<int>(input.rows.size()), std::max(1, rows / 3));
    const int status_row = rows - input_height - 1;
    const int message_rows = message_.empty() ? 0 : 1;
    view_height_ = std::max(1, status_row - message_rows);

    scrollback_.set_width(cols);
    if (resize_anchor_) {
        view_.show_row_at_top(scrollback_.row_of(*resize_anchor_), scrollback_.total_rows(), view_height_);
        resize_anchor_.reset();
    }
    if (pager_) {
        draw_pager(view_height_);
    } else {
        draw_scrollback(view_height_);
    }
    if (message_rows > 0) {
        // A message wider than the window ends in a pointer to where it can be read whole
        // (not in a window so narrow that the pointer would hide the message).
        const std::string shown = sanitize(message_);
        const std::string more = " (F12: all)";
        const std::string row = display_width(shown) <= cols || cols < 3 * display_width(more)
                                    ? truncate_to_width(shown, cols)
                                    : truncate_to_width(shown, cols - display_width(more)) + more;
        screen_.draw(status_row - 1, row, message_error_ ? Style::Error : Style::Dim);
    }
    screen_.draw_bar(status_row, compose_status(status_info(), cols));
    const int first_input = std::max(0, input.cursor_row - input_height + 1);
    for (int i = 0; i < input_height && first_input + i < static_cast<int>(input.rows.size()); ++i) {
        screen_.draw(status_row + 1 + i, input.rows[static_cast<std::size_t>(first_input + i)], Style::Plain);
    }
    screen_.place_cursor(status_row + 1 + input.cursor_row - first_input, input.cursor_col);
    screen_.show();
}

void Chat::draw_scrollback(int height) {
    const int total = scrollback_.total_rows();
    const int first = view_.first_row(total, height);
    const std::vector<StyledLine> rows = scrollback_.rows(first, height);
    for (std::size_t i = 0; i < rows.size(); ++i) screen_.draw(static_cast<int>(i), rows[i]);
    if (!view_.following()) {
        const std::string more = " \u2193 " + std::to_string(view_.rows_below()) + " more rows (End) ";
        screen_.draw(height - 1, truncate_to_width(more, screen_.cols()), Style::Dim);
    }
}

void Chat::draw_pager(int height) {
    std::vector<StyledLine> rows;
    for (const std::string& text : split_lines(sanitize(pager_->text))) {
        StyledLine line;
        line.add(text, Style::Plain);
        line.indent = second_column(text);  // wrapped help text stays in its column
        for (StyledLine& row : wrap(line, screen_.cols())) rows.push_back(std::move(row));
    }
    const int body = std::max(1, height - 1);
    pager_->top = std::clamp(pager_->top, 0, std::max(0, static_cast<int>(rows.size()) - body));
    screen_.draw_bar(0, pager_->title);
    for (int i = 0; i < body && pager_->top + i < static_cast<int>(rows.size()); ++i) {
        screen_.draw(1 + i, rows[static_cast<std::size_t>(pager_->top + i)]);
    }
}

// --- entry points -------------------------------------------------------------------------

int run_tui(Session& session, const TuiOptions& options) {
    std::filesystem::path saved;
    {
        Chat chat(session, options);
        chat.run();
        saved = chat.finish();
    }  // the screen is torn down here; the terminal is ours again
    if (!saved.empty()) std::fprintf(stderr, "natter: the chat is saved in %s\n", saved.c_str());
    return 0;
}

}  // namespace natter::ui
