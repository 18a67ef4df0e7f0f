#include "linechat/line_chat.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "session/chat_commands.h"
#include "session/session.h"
#include "core/error.h"

namespace natter {

namespace {

std::atomic<Session*> g_session{nullptr};
volatile std::sig_atomic_t g_sigint = 0;

void on_sigint(int) {
    g_sigint = 1;
    if (Session* s = g_session.load()) s->cancel();  // an atomic store: safe in a handler
}

// Installs the handler without SA_RESTART, so that a Ctrl-C at the prompt ends the read.
class SigintGuard {
public:
    SigintGuard(Session& session, bool active) : active_(active) {
        if (!active_) return;
        g_session = &session;
        g_sigint = 0;
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_);
    }
    ~SigintGuard() {
        if (!active_) return;
        sigaction(SIGINT, &old_, nullptr);
        g_session = nullptr;
    }

private:
    bool active_;
    struct sigaction old_ {};
};

// Reads one message: lines ending in '\' continue it. False at end of input.
bool read_message(std::istream& in, std::string& message) {
    message.clear();
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line.back() == '\\') {
            line.pop_back();
            message += line + "\n";
            continue;
        }
        message += line;
        return true;
    }
    return !message.empty();
}

void print_stats(const SessionEvent& e, const Session& session, std::ostream& err) {
    const ContextUsage ctx = session.context();
    err << "natter: " << reply_stats_text(e.stats, e.reason) << " \u00b7 context " << ctx.used << "/" << ctx.total << "\n"
        << std::flush;
}

// Streams one reply to `out` until it ends.
void stream_reply(Session& session, std::ostream& out, std::ostream& err, const LineChatOptions& options) {
    while (true) {
        const auto e = session.wait_event(std::chrono::milliseconds(200));
        if (!e) continue;
        switch (e->kind) {
            case SessionEvent::Kind::Text: out << e->text << std::flush; break;
            case SessionEvent::Kind::Notice: err << "natter: " << e->text << "\n" << std::flush; break;
            case SessionEvent::Kind::PromptProgress:
            case SessionEvent::Kind::FirstToken: break;
            case SessionEvent::Kind::Finished:
            case SessionEvent::Kind::Interrupted:
                out << "\n" << std::flush;
                if (e->reason == StopReason::Error) err << "natter: error: " << e->text << "\n";
                if (e->reason == StopReason::Cancelled) err << "natter: reply stopped\n";
                if (options.verbose) print_stats(*e, session, err);
                err << std::flush;
                return;
        }
    }
}

void drain_notices(Session& session, std::ostream& err) {
    while (const auto e = session.poll_event()) {
        if (e->kind == SessionEvent::Kind::Notice) err << "natter: " << e->text << "\n" << std::flush;
    }
}

// Prints what a slash command returned; true when the chat goes on.
bool show(const CommandResult& r, Session& session, std::ostream& out, std::ostream& err,
          const LineChatOptions& options) {
    if (!r.title.empty()) {
        err << r.title << ":\n" << r.text << (r.text.ends_with('\n') ? "" : "\n");
    }
    if (!r.notice.empty()) err << r.notice << "\n";
    if (r.editing_last) err << "Last message: " << *r.input_text << "\n";
    err << std::flush;
    if (r.reply_started) stream_reply(session, out, err, options);
    return !r.quit;
}

// Handles one input line; false when the chat should end. `editing_last`: /edit without
// text came before, so this message replaces the last one.
bool handle(Session& session, const std::string& line, bool& editing_last, std::ostream& out, std::ostream& err,
            const LineChatOptions& options) {
    if (line.find_first_not_of(" \t") == std::string::npos) return true;
    try {
        const ParsedInput input = parse_input(line);
        if (input.kind == ParsedInput::Kind::Error) {
            err << "natter: " << input.text << "\n" << std::flush;
            return true;
        }
        if (input.kind == ParsedInput::Kind::Command) {
            const CommandResult r = run_command(session, input, options.autosave);
            editing_last = r.editing_last;
            return show(r, session, out, err, options);
        }
        if (editing_last) {
            session.edit_last(input.text);
        } else {
            session.submit(input.text);
        }
        editing_last = false;
        stream_reply(session, out, err, options);
    } catch (const Error& e) {
        err << "natter: " << e.what() << "\n" << std::flush;
    }
    return true;
}

}  // namespace

int run_line_chat(Session& session, std::istream& in, std::ostream& out, std::ostream& err,
                  const LineChatOptions& options) {
    SigintGuard guard(session, options.handle_sigint);
    for (const auto& w : session.template_warnings()) err << "natter: warning: " << w << "\n";
    std::string message;
    bool editing_last = false;
    while (true) {
        drain_notices(session, err);
        if (options.show_prompt_marker) err << "> " << std::flush;
        g_sigint = 0;
        if (!read_message(in, message)) break;
        if (!handle(session, message, editing_last, out, err, options)) break;
    }
    int code = 0;
    try {
        const auto path = options.autosave ? session.autosave() : std::filesystem::path{};
        if (!path.empty()) err << "natter: chat saved to " << path.string() << "\n";
    } catch (const Error& e) {
        err << "natter: error: " << e.what() << "\n";
        code = 1;
    }
    err << std::flush;
    return code;
}

}  // namespace natter
