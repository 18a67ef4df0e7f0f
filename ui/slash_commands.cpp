// What each slash command does. Errors from the session (a busy generator, a bad value, an
// unreadable file) are natter::Error with a one-line message; on_line shows it.
#include <chrono>
#include <cstdlib>
#include <ctime>

#include "core/error.h"
#include "ui/chat.h"
#include "ui/clipboard.h"
#include "ui/help.h"
#include "ui/text.h"

namespace natter::ui {

namespace {

std::filesystem::path expand_home(const std::string& path) {
    if (path.starts_with("~/")) {
        if (const char* home = std::getenv("HOME")) return std::filesystem::path(home) / path.substr(2);
    }
    return path;
}

std::string timestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &local);
    return buf;
}

}  // namespace

void Chat::run_command(const ParsedInput& input) {
    switch (input.command) {
        case CommandKind::Help: open_pager("Help: keys and commands (q or Esc closes)", help_text()); break;
        case CommandKind::Save: command_save(input.arg); break;
        case CommandKind::Load: command_load(input.arg); break;
        case CommandKind::Template: command_template(input.arg); break;
        case CommandKind::Set: command_set(input.words); break;
        case CommandKind::System: command_system(input.arg); break;
        case CommandKind::Regen:
            session_.regenerate();
            view_.to_bottom();
            refresh_turns();
            break;
        case CommandKind::Undo: {
            const std::string text = session_.undo();
            refresh_turns();
            if (text.empty()) {
                notify("There is nothing to undo.");
            } else {
                editor_.set_text(text);
                notify("Removed the last exchange; your message is back in the input line.");
            }
            break;
        }
        case CommandKind::Edit: {
            const std::string text = session_.last_user_text();
            if (text.empty()) throw Error("There is no message to edit yet.");
            editor_.set_text(text);
            editing_last_ = true;
            notify("Editing your last message: Enter sends it again and replaces its reply; Ctrl-C cancels.");
            break;
        }
        case CommandKind::Clear:
            session_.clear();
            view_.to_bottom();
            refresh_turns();
            notify("A new, empty conversation.");
            break;
        case CommandKind::Prompt:
            open_pager("The prompt the model sees, template " + session_.template_name() + " (q closes)",
                       session_.prompt_text());
            break;
        case CommandKind::Copy: command_copy(); break;
        case CommandKind::Quit: quit_ = true; break;
    }
}

void Chat::command_save(const std::string& arg) {
    std::filesystem::path path = expand_home(arg);
    if (arg.empty()) {
        std::filesystem::create_directories(Session::sessions_dir());
        path = Session::sessions_dir() / ("chat-" + timestamp() + ".json");
    }
    session_.save_as(path);
    notify("Saved the chat to " + path.string());
}

void Chat::command_load(const std::string& arg) {
    session_.load(expand_home(arg));
    view_.to_bottom();
    refresh_turns();
    notify("Loaded " + arg + ": " + std::to_string(session_.messages().size()) + " messages, template " +
           session_.template_name());
}

void Chat::command_template(const std::string& arg) {
    if (!arg.empty()) {
        session_.set_template(arg);
        notify("Template " + arg + " (the conversation is re-rendered in it for the next reply)");
        return;
    }
    std::string list;
    const std::string current = session_.template_name();
    for (const std::string& name : session_.template_names()) list += (name == current ? "* " : "  ") + name + "\n";
    for (const std::string& w : session_.template_warnings()) list += "\nnot loaded: " + w;
    open_pager("Chat templates (* in use; F2 cycles, /template NAME picks)", list);
}

void Chat::command_set(const std::vector<std::string>& words) {
    if (words.empty()) {
        std::string list;
        for (const std::string& name : Session::setting_names()) list += name + " = " + session_.get(name) + "\n";
        open_pager("Generation settings (/set NAME VALUE changes one)", list);
        return;
    }
    if (words.size() == 2) session_.set(words[0], words[1]);
    notify(words[0] + " = " + session_.get(words[0]));
}

void Chat::command_system(const std::string& arg) {
    if (arg.empty()) {
        const std::string current = session_.system_prompt();
        if (current.empty()) {
            notify("There is no system prompt; /system TEXT sets one.");
        } else {
            open_pager("System prompt (/system TEXT replaces it, /system - removes it)", current);
        }
        return;
    }
    session_.set_system_prompt(arg == "-" ? "" : arg);
    notify(arg == "-" ? "Removed the system prompt." : "System prompt set; it applies from the next reply.");
}

void Chat::command_copy() {
    const std::vector<Message> messages = session_.messages();
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->role != Role::Assistant || it->text.empty()) continue;
        screen_.write_raw(osc52_sequence(it->text));
        notify("Copied the last reply (" + std::to_string(display_width(it->text)) +
               " characters) to the clipboard through the terminal (OSC 52).");
        return;
    }
    throw Error("There is no reply to copy yet.");
}

}  // namespace natter::ui
