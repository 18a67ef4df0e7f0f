#pragma once
// Slash commands: the table (for the help and the man page) and the parser that turns a
// submitted line into either a message for the model, a command, or a one-line error.
#include <string>
#include <string_view>
#include <vector>

namespace natter::ui {

enum class CommandKind { Help, Save, Load, Template, Set, System, Regen, Undo, Edit, Clear, Prompt, Copy, Quit };

// How a command takes its argument.
enum class ArgShape {
    None,      // /undo
    Optional,  // /save [file], /template [name]: the rest of the line, may be empty
    Required,  // /load file: the rest of the line
    Words,     // /set [param [value]]: up to two words
};

struct CommandInfo {
    CommandKind kind;
    std::string name;  // without the slash
    std::string args;  // as written in the help, e.g. "[file]"
    ArgShape shape;
    std::string help;
};

const std::vector<CommandInfo>& command_table();

struct ParsedInput {
    enum class Kind { Message, Command, Error } kind = Kind::Message;
    std::string text;                 // Message: what to send; Error: the one-line message
    CommandKind command = CommandKind::Help;
    std::string arg;                  // the rest of the line, trimmed, quotes removed
    std::vector<std::string> words;   // Words commands: the words
};

// A line starting with "/" is a command ("//" sends a message starting with one "/").
// Commands may be shortened to any unique prefix (/q, /tem). Unknown commands and
// missing or extra arguments give Kind::Error with a message naming the problem.
ParsedInput parse_input(std::string_view line);

}  // namespace natter::ui
