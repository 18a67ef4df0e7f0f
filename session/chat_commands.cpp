// The slash command table, its parser and what each command does to the session.
#include "session/chat_commands.h"

#include <algorithm>

#include "core/error.h"
#include "core/paths.h"
#include "session/session.h"

namespace natter {

const std::vector<CommandInfo>& command_table() {
    static const std::vector<CommandInfo> table = {
        {CommandKind::Help, "help", {}, "", ArgShape::None, "show every key and command"},
        {CommandKind::Save, "save", {}, "[file]", ArgShape::Optional,
         "save the chat: .json keeps everything, .md exports Markdown; no file: its autosave file in the sessions folder"},
        {CommandKind::Load, "load", {}, "file", ArgShape::Required,
         "replace this chat with a saved one (.json); this one is autosaved first"},
        {CommandKind::Template, "template", {}, "[name]", ArgShape::Optional,
         "switch the chat template (the history is re-rendered); no name: list them"},
        {CommandKind::Set, "set", {}, "[param [value]]", ArgShape::Words,
         "set a generation parameter (temp, top-k, top-p, min-p, repeat-penalty, repeat-last-n, seed, "
         "max-tokens, ...); no value: show it; nothing: show all"},
        {CommandKind::System, "system", {}, "[text]", ArgShape::Optional,
         "set the system prompt for the next turns; no text: show it; \"-\": remove it"},
        {CommandKind::Regen, "regen", {}, "", ArgShape::None, "generate the last reply again"},
        {CommandKind::Undo, "undo", {}, "", ArgShape::None,
         "remove the last exchange (your message goes back to the input line)"},
        {CommandKind::Edit, "edit", {}, "[text]", ArgShape::Optional,
         "send your last message again as TEXT, replacing its reply; no text: edit it in the input line"},
        {CommandKind::Clear, "clear", {}, "", ArgShape::None, "start a new, empty chat; this one is autosaved first"},
        {CommandKind::Prompt, "prompt", {}, "", ArgShape::None, "show the exact prompt text the model sees"},
        {CommandKind::Stats, "stats", {}, "", ArgShape::None,
         "each reply's tokens, speed, time to first token and why it stopped"},
        {CommandKind::Copy, "copy", {}, "", ArgShape::None, "copy the last reply to the clipboard (OSC 52)", true},
        {CommandKind::Quit, "quit", {"exit"}, "", ArgShape::None, "save the chat and quit"},
    };
    return table;
}

const CommandInfo& command_info(CommandKind kind) {
    for (const CommandInfo& c : command_table()) {
        if (c.kind == kind) return c;
    }
    throw Error("internal error: a command kind without a table entry");
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
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

bool names(const CommandInfo& c, std::string_view name) {
    return c.name == name || std::find(c.aliases.begin(), c.aliases.end(), name) != c.aliases.end();
}

bool prefixes(const CommandInfo& c, std::string_view prefix) {
    if (prefix.empty()) return false;
    if (c.name.starts_with(prefix)) return true;
    return std::any_of(c.aliases.begin(), c.aliases.end(), [&](const std::string& a) { return a.starts_with(prefix); });
}

// The command named `name` exactly, else the one it is a unique prefix of.
const CommandInfo* find_command(std::string_view name, std::string& problem) {
    const CommandInfo* match = nullptr;
    int matches = 0;
    for (const CommandInfo& c : command_table()) {
        if (names(c, name)) return &c;
        if (prefixes(c, name)) {
            match = &c;
            ++matches;
        }
    }
    if (matches == 1) return match;
    if (matches > 1) {
        // Built in a fresh string, not as "/" + std::string(name) into `problem`: GCC 12
        // inlines that into a false -Wrestrict (GCC bug 105329).
        std::string list(1, '/');
        list.append(name).append(" is ambiguous:");
        for (const CommandInfo& c : command_table()) {
            if (prefixes(c, name)) list.append(" /").append(c.name);
        }
        problem = std::move(list);
    } else {
        problem = "unknown command /" + std::string(name) + " (/help lists the commands; // sends a line starting with /)";
    }
    return nullptr;
}

// Autosaves the conversation that is about to be replaced; the words that say where.
std::string save_before_replacing(Session& s, bool autosave) {
    if (s.busy()) throw Error("A reply is still being written: stop it first (Ctrl-C).");
    const std::filesystem::path path = autosave ? s.autosave() : std::filesystem::path{};
    return path.empty() ? "" : " (the previous chat is saved in " + path.string() + ")";
}

CommandResult save(Session& s, const std::string& arg) {
    CommandResult r;
    if (arg.empty()) {
        const std::filesystem::path path = s.autosave();
        r.notice = path.empty() ? "Nothing new to save." : "Saved the chat to " + path.string() + ".";
        return r;
    }
    const std::filesystem::path path = paths::expand_home(arg);
    s.save_as(path);
    r.notice = "Saved the chat to " + path.string() + ".";
    return r;
}

CommandResult load(Session& s, const std::string& arg, bool autosave) {
    const std::filesystem::path path = paths::expand_home(arg);
    const std::string saved = save_before_replacing(s, autosave);
    s.load(path);
    CommandResult r;
    r.conversation_replaced = true;
    r.notice = "Loaded " + path.string() + ": " + std::to_string(s.messages().size()) + " messages, template " +
               s.template_name() + saved + ".";
    return r;
}

CommandResult clear(Session& s, bool autosave) {
    const std::string saved = save_before_replacing(s, autosave);
    s.clear();
    CommandResult r;
    r.conversation_replaced = true;
    r.notice = "A new, empty chat" + saved + ".";
    return r;
}

CommandResult templates(Session& s, const std::string& arg) {
    CommandResult r;
    if (s.is_remote()) s.set_template(arg);  // says in one sentence that the server has its own
    if (!arg.empty()) {
        s.set_template(arg);
        r.notice = "Template " + s.template_name() + " (the conversation is re-rendered in it for the next reply).";
        return r;
    }
    r.title = "Chat templates (* in use; /template NAME picks one)";
    const std::string current = s.template_name();
    for (const std::string& name : s.template_names()) r.text += (name == current ? "* " : "  ") + name + "\n";
    for (const std::string& w : s.template_warnings()) r.text += "\nnot loaded: " + w;
    return r;
}

CommandResult set(Session& s, const std::vector<std::string>& words) {
    CommandResult r;
    if (words.empty()) {
        r.title = "Generation settings (/set NAME VALUE changes one)";
        for (const std::string& name : Session::setting_names()) r.text += name + " = " + s.get(name) + "\n";
        return r;
    }
    if (words.size() == 2) s.set(words[0], words[1]);
    r.notice = words[0] + " = " + s.get(words[0]);
    return r;
}

CommandResult system(Session& s, const std::string& arg) {
    CommandResult r;
    if (arg.empty()) {
        const std::string current = s.system_prompt();
        if (current.empty()) {
            r.notice = "There is no system prompt; /system TEXT sets one.";
        } else {
            r.title = "System prompt (/system TEXT replaces it, /system - removes it)";
            r.text = current;
        }
        return r;
    }
    s.set_system_prompt(arg == "-" ? "" : arg);
    r.notice = arg == "-" ? "Removed the system prompt." : "System prompt set; it applies from the next reply.";
    return r;
}

CommandResult edit(Session& s, const std::string& arg) {
    CommandResult r;
    if (!arg.empty()) {
        s.edit_last(arg);
        r.reply_started = true;
        r.conversation_replaced = true;
        return r;
    }
    const std::string last = s.last_user_text();
    if (last.empty()) throw Error("There is no message to edit yet.");
    r.input_text = last;
    r.editing_last = true;
    r.notice = "Editing your last message: the next message you send replaces it and its reply.";
    return r;
}

CommandResult undo(Session& s) {
    CommandResult r;
    const std::string text = s.undo();
    if (text.empty()) {
        r.notice = "There is nothing to undo.";
        return r;
    }
    r.conversation_replaced = true;
    r.input_text = text;
    r.notice = "Removed the last exchange.";
    return r;
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

CommandResult run_command(Session& s, const ParsedInput& input, bool autosave) {
    if (input.kind != ParsedInput::Kind::Command) throw Error("internal error: run_command on a message");
    CommandResult r;
    switch (input.command) {
        case CommandKind::Help:
            r.title = "Commands (any unique prefix works, e.g. /q)";
            r.text = command_help();
            return r;
        case CommandKind::Save: return save(s, input.arg);
        case CommandKind::Load: return load(s, input.arg, autosave);
        case CommandKind::Template: return templates(s, input.arg);
        case CommandKind::Set: return set(s, input.words);
        case CommandKind::System: return system(s, input.arg);
        case CommandKind::Regen:
            s.regenerate();
            r.reply_started = true;
            r.conversation_replaced = true;
            return r;
        case CommandKind::Undo: return undo(s);
        case CommandKind::Edit: return edit(s, input.arg);
        case CommandKind::Clear: return clear(s, autosave);
        case CommandKind::Prompt:
            r.title = s.is_remote() ? "The messages the next request sends to " + s.model_path() +
                                          " (templates are the server's job for chat completions: it renders these in its own)"
                                    : "The prompt the model sees, template " + s.template_name();
            r.text = s.prompt_text();
            return r;
        case CommandKind::Stats: {
            int n = 0;
            for (const Message& m : s.messages()) {
                if (m.role != Role::Assistant || m.stop_reason == StopReason::None) continue;
                r.text += "reply " + std::to_string(++n) + ": " + reply_stats_text(m.stats, m.stop_reason) + "\n";
            }
            if (n == 0) {
                r.notice = "No replies yet.";
            } else {
                r.title = "Reply statistics";
            }
            return r;
        }
        case CommandKind::Copy: break;
        case CommandKind::Quit: r.quit = true; return r;
    }
    const CommandInfo& info = command_info(input.command);
    throw Error("/" + info.name + " works only in the full-screen chat.");
}

std::string command_usage(const CommandInfo& c) { return "/" + c.name + (c.args.empty() ? "" : " " + c.args); }

std::string command_description(const CommandInfo& c) {
    std::string help = c.help;
    for (const std::string& a : c.aliases) help += " (also /" + a + ")";
    return help;
}

std::string command_help(int column) {
    for (const CommandInfo& c : command_table()) column = std::max(column, static_cast<int>(command_usage(c).size()) + 2);
    const auto pad = [column](std::string s) {
        s.resize(std::max<std::size_t>(s.size(), static_cast<std::size_t>(column)), ' ');
        return s;
    };
    std::string out;
    for (const CommandInfo& c : command_table()) {
        out += pad(command_usage(c)) + command_description(c) + "\n";
    }
    out += pad("//text") + "send a message that starts with /\n";
    return out;
}

}  // namespace natter
