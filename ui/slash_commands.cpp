// The slash commands on the chat screen. Errors (a busy generator, a bad value, an unreadable
// file) are natter::Error with a one-line message; on_line shows it.
#include "core/error.h"
#include "ui/chat.h"
#include "ui/clipboard.h"
#include "ui/help.h"
#include "ui/text.h"

namespace natter::ui {

// Help and /copy need the screen; every other command is the shared one
// (session/chat_commands.h), its result shown here.
void Chat::run_command(const ParsedInput& input) {
    switch (input.command) {
        case CommandKind::Help: open_pager("Help: keys and commands (q or Esc closes)", help_text()); return;
        case CommandKind::Copy: command_copy(); return;
        default: break;
    }
    const CommandResult r = natter::run_command(session_, input);
    quit_ = quit_ || r.quit;
    if (r.input_text) editor_.set_text(*r.input_text);
    editing_last_ = r.editing_last;
    if (r.conversation_replaced || r.reply_started) {
        view_.to_bottom();
        refresh_turns();
    }
    if (!r.title.empty()) open_pager(r.title + " (q closes)", r.text);
    if (r.input_text && !r.editing_last) {
        notify(r.notice + " Your message is back in the input line.");
    } else if (!r.notice.empty()) {
        notify(r.notice);
    }
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
