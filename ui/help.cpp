// Renders the key and command tables for people (help screen) and for man(1).
#include "ui/help.h"

#include <algorithm>

#include "session/chat_commands.h"
#include "ui/keys.h"
#include "ui/text.h"

namespace natter::ui {

namespace {

std::string pad(const std::string& s, int width) {
    return s + std::string(static_cast<std::size_t>(std::max(0, width - display_width(s))), ' ');
}

// roff treats a leading "." or "'" as a request and "\" as an escape.
std::string roff_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') {
            out += "\\e";
        } else if (c == '-') {
            out += "\\-";
        } else {
            out += c;
        }
    }
    if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
    return out;
}

}  // namespace

std::string help_text() {
    int column = 0;
    for (const KeyBinding& b : key_bindings()) column = std::max(column, display_width(b.keys));
    for (const CommandInfo& c : command_table()) column = std::max(column, display_width(command_usage(c)));
    column += 2;

    std::string out = "Keys\n";
    for (const KeyBinding& b : key_bindings()) out += "  " + pad(b.keys, column) + b.help + "\n";
    out += "  " + pad("(readline)", column) + "arrows, Ctrl-A/E/K/W, Alt-B/F and your ~/.inputrc edit the input line\n";
    out += "\nCommands (any unique prefix works, e.g. /q)\n";
    const std::string commands = command_help(column);
    for (std::size_t at = 0; at < commands.size();) {  // indented like the keys
        const std::size_t end = commands.find('\n', at);
        out += "  " + commands.substr(at, end - at + 1);
        at = end + 1;
    }
    return out;
}

std::string man_keys_section() {
    std::string out = ".SH KEYS\n";
    for (const KeyBinding& b : key_bindings()) out += ".TP\n.B " + roff_escape(b.keys) + "\n" + roff_escape(b.help) + "\n";
    out += ".SH COMMANDS\nA line that starts with / is a command. Any unique prefix of a command works (\\fB/q\\fR quits);\n"
           "\\fB//\\fR at the start sends a message that begins with one /.\n";
    for (const CommandInfo& c : command_table()) {
        if (c.args.empty()) {
            out += ".TP\n.B " + roff_escape("/" + c.name) + "\n";
        } else {  // bold command, italic arguments, one tag line
            out += ".TP\n.BI \"" + roff_escape("/" + c.name + " ") + "\" \"" + roff_escape(c.args) + "\"\n";
        }
        out += roff_escape(command_description(c)) + "\n";
    }
    return out;
}

}  // namespace natter::ui
