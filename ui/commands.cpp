// The slash command table and parser.
#include "ui/commands.h"

namespace natter::ui {

const std::vector<CommandInfo>& command_table() {
    static const std::vector<CommandInfo> table = {
        {CommandKind::Help, "help", "", ArgShape::None, "show every key and command"},
        {CommandKind::Save, "save", "[file]", ArgShape::Optional,
         "save the chat: .json keeps everything, .md exports Markdown; no file: a new file in the sessions folder"},
        {CommandKind::Load, "load", "file", ArgShape::Required, "replace this chat with a saved one (.json)"},
        {CommandKind::Template, "template", "[name]", ArgShape::Optional,
         "switch the chat template (the history is re-rendered); no name: list them"},
        {CommandKind::Set, "set", "[param [value]]", ArgShape::Words,
         "set a generation parameter (temp, top-k, top-p, min-p, repeat-penalty, repeat-last-n, seed, "
         "max-tokens, ...); no value: show it; nothing: show all"},
        {CommandKind::System, "system", "[text]", ArgShape::Optional,
         "set the system prompt for the next turns; no text: show it; \"-\": remove it"},
        {CommandKind::Regen, "regen", "", ArgShape::None, "generate the last reply again"},
        {CommandKind::Undo, "undo", "", ArgShape::None, "remove the last exchange (your message goes back to the input line)"},
        {CommandKind::Edit, "edit", "", ArgShape::None, "edit your last message and send it again"},
        {CommandKind::Clear, "clear", "", ArgShape::None, "start a new, empty conversation"},
        {CommandKind::Prompt, "prompt", "", ArgShape::None, "show the exact prompt text the model sees"},
        {CommandKind::Copy, "copy", "", ArgShape::None, "copy the last reply to the clipboard (OSC 52)"},
        {CommandKind::Quit, "quit", "", ArgShape::None, "save the chat and quit"},
    };
    return table;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

std::string unquote(std::string_view s) {
    if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\''))) {
        s = s.substr(1, s.size() - 2);
    }
    return std::string(s);
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ') ++i;
        if (i > start) words.emplace_back(s.substr(start, i - start));
    }
    return words;
}

ParsedInput error(std::string message) {
    ParsedInput p;
    p.kind = ParsedInput::Kind::Error;
    p.text = std::move(message);
    return p;
}

// The command named `name` exactly, else the one it is a unique prefix of.
const CommandInfo* find_command(std::string_view name, std::string& problem) {
    const CommandInfo* match = nullptr;
    int matches = 0;
    for (const CommandInfo& c : command_table()) {
        if (c.name == name) return &c;
        if (!name.empty() && c.name.starts_with(name)) {
            match = &c;
            ++matches;
        }
    }
    if (matches == 1) return match;
    if (matches > 1) {
        problem = "/" + std::string(name) + " is ambiguous:";
        for (const CommandInfo& c : command_table()) {
            if (c.name.starts_with(name)) problem += " /" + c.name;
        }
    } else {
        problem = "unknown command /" + std::string(name) + " (/help lists the commands; // sends a line starting with /)";
    }
    return nullptr;
}

}  // namespace

ParsedInput parse_input(std::string_view line) {
    ParsedInput p;
    if (!line.starts_with("/")) {
        p.text = std::string(line);
        return p;
    }
    if (line.starts_with("//")) {
        p.text = std::string(line.substr(1));
        return p;
    }
    const std::string_view body = trim(line.substr(1));
    const std::size_t space = body.find_first_of(" \t\n");
    const std::string_view name = body.substr(0, space);
    const std::string_view rest = space == std::string_view::npos ? std::string_view{} : trim(body.substr(space));
    std::string problem;
    const CommandInfo* info = find_command(name, problem);
    if (info == nullptr) return error(problem);

    p.kind = ParsedInput::Kind::Command;
    p.command = info->kind;
    p.arg = unquote(rest);
    p.words = split_words(rest);
    switch (info->shape) {
        case ArgShape::None:
            if (!rest.empty()) return error("/" + info->name + " takes no arguments");
            break;
        case ArgShape::Required:
            if (rest.empty()) return error("/" + info->name + " needs " + info->args + " (e.g. /" + info->name + " chat.json)");
            break;
        case ArgShape::Words:
            if (p.words.size() > 2) return error("/" + info->name + " takes " + info->args + ", e.g. /set temp 0.7");
            break;
        case ArgShape::Optional:
            break;
    }
    return p;
}

}  // namespace natter::ui
