#pragma once
// Slash commands that act on the session (/save, /load, /template, /set, ...), shared by the
// line chat and the full-screen chat so that both behave the same. Commands that only make
// sense on a screen (/copy, key help) stay in the front end: run_chat_command reports them
// as not handled.
#include <optional>
#include <string>
#include <string_view>

namespace natter {

class Session;

struct ChatCommandResult {
    bool handled = false;        // false: not a command this function knows
    bool quit = false;           // /quit, /exit
    bool reply_started = false;  // /regen, /edit TEXT: a reply is now streaming
    std::string output;          // text for the user (possibly several lines, no trailing newline)
    std::optional<std::string> edit_text;  // /edit without text: put this in the input editor
};

// `line` starts with '/'. Throws natter::Error with a one-line message for a bad argument or
// an action that is not possible now (e.g. /undo while a reply streams); nothing changes then.
ChatCommandResult run_chat_command(Session& session, std::string_view line);

// One line per command, for /help.
std::string chat_command_help();

}  // namespace natter
