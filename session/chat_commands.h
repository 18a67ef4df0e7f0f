#pragma once
// The slash commands (/save, /load, /template, /set, /clear, ...): one table, one parser and
// one set of actions on the session, used by both the full-screen chat (ui/) and the line
// chat (linechat/), so that a command means the same everywhere. A front end shows what a
// command returns in its own way (the screen in its pager and message line, the line chat
// on stderr) and does itself only what needs a screen: the key help of /help and /copy.
//
// Whatever replaces the conversation (/clear, /load) autosaves it first (unless the front end
// does not autosave) and says where; if that save fails, the command fails and nothing changes.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

class Session;

enum class CommandKind { Help, Save, Load, Template, Set, System, Regen, Undo, Edit, Clear, Prompt, Stats, Copy, Quit };

// How a command takes its argument.
enum class ArgShape {
    None,      // /undo
    Optional,  // /save [file], /template [name]: the rest of the line, may be empty
    Required,  // /load file: the rest of the line
    Words,     // /set [param [value]]: up to two words
};

struct CommandInfo {
    CommandKind kind;
    std::string name;                  // without the slash
    std::vector<std::string> aliases;  // other names, e.g. "exit" for "quit"
    std::string args;                  // as written in the help, e.g. "[file]"
    ArgShape shape;
    std::string help;
    bool screen_only = false;  // needs the full-screen chat (/copy)
};

const std::vector<CommandInfo>& command_table();
const CommandInfo& command_info(CommandKind kind);

struct ParsedInput {
    enum class Kind { Message, Command, Error } kind = Kind::Message;
    std::string text;                 // Message: what to send; Error: the one-line message
    CommandKind command = CommandKind::Help;
    std::string arg;                  // the rest of the line, trimmed, quotes removed
    std::vector<std::string> words;   // Words commands: the words
};

// A line starting with "/" is a command ("//" sends a message starting with one "/").
// Commands may be shortened to any unique prefix (/q, /tem). Unknown commands and missing
// or extra arguments give Kind::Error with a one-line message naming the problem.
ParsedInput parse_input(std::string_view line);

// What a command did, for the front end to show.
struct CommandResult {
    std::string notice;  // one line for the user ("" when `text` says it all)
    // A longer text (a list, the prompt, a system prompt) with its title: the screen opens
    // it in its pager, the line chat prints it.
    std::string title;
    std::string text;
    bool quit = false;
    bool reply_started = false;         // /regen, /edit TEXT: a reply is now streaming
    bool conversation_replaced = false;  // /clear, /load, /undo: redraw the whole history
    // Text for the input line: /undo gives back the removed message; /edit without text puts
    // the last message there, and then `editing_last` says the next message replaces it.
    std::optional<std::string> input_text;
    bool editing_last = false;
};

// Runs a parsed command (kind Command) on the session. Throws natter::Error with a one-line
// message for a bad argument, an action that is not possible now (e.g. /undo while a reply
// streams) or a screen-only command; nothing changes then. /help returns the commands'
// help; a front end with keys to explain adds them. `autosave` false (a front end that does
// not autosave, e.g. a piped line chat): /clear and /load replace the chat without saving it.
CommandResult run_command(Session& session, const ParsedInput& input, bool autosave = true);

// "/name args" as the help writes it, and its help with the aliases named.
std::string command_usage(const CommandInfo& command);
std::string command_description(const CommandInfo& command);
// One command per line with its help, usages in an aligned column of at least `column`.
std::string command_help(int column = 0);

}  // namespace natter
