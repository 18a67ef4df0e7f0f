#include "app/chat_commands.h"

#include <functional>

#include "app/session.h"
#include "core/error.h"

namespace natter {

namespace {

std::string_view trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
    return out;
}

using Handler = std::function<void(Session&, std::string_view arg, ChatCommandResult&)>;

struct Command {
    const char* name;
    const char* usage;
    const char* help;
    Handler run;
};

void save(Session& s, std::string_view arg, ChatCommandResult& r) {
    if (arg.empty()) {
        const auto path = s.autosave();
        r.output = path.empty() ? "Nothing new to save." : "Saved to " + path.string() + ".";
        return;
    }
    s.save_as(std::string(arg));
    r.output = "Saved to " + std::string(arg) + ".";
}

void show_or_set_template(Session& s, std::string_view arg, ChatCommandResult& r) {
    if (arg.empty()) {
        r.output = "Templates: " + join(s.template_names(), ", ") + " (current: " + s.template_name() + ").";
        return;
    }
    s.set_template(std::string(arg));
    r.output = "Template: " + s.template_name() + ".";
}

void show_or_set_setting(Session& s, std::string_view arg, ChatCommandResult& r) {
    if (arg.empty()) {
        for (const auto& name : Session::setting_names()) r.output += (r.output.empty() ? "" : "\n") + name + " = " + s.get(name);
        return;
    }
    const size_t space = arg.find_first_of(" \t");
    if (space == std::string_view::npos) throw Error("Usage: /set <param> <value>, e.g. /set temp 0.7.");
    const std::string_view name = arg.substr(0, space);
    s.set(name, trim(arg.substr(space)));
    r.output = std::string(name) + " = " + s.get(name);
}

void edit(Session& s, std::string_view arg, ChatCommandResult& r) {
    if (arg.empty()) {
        r.edit_text = s.last_user_text();
        if (r.edit_text->empty()) throw Error("There is no message to edit.");
        return;
    }
    s.edit_last(std::string(arg));
    r.reply_started = true;
}

const std::vector<Command>& commands() {
    static const std::vector<Command> list = {
        {"help", "/help", "show the commands",
         [](Session&, std::string_view, ChatCommandResult& r) { r.output = chat_command_help(); }},
        {"save", "/save [file]", "save the chat (.json, or .md for Markdown); no file: the sessions folder", save},
        {"load", "/load file", "load a saved chat (JSON)",
         [](Session& s, std::string_view arg, ChatCommandResult& r) {
             if (arg.empty()) throw Error("Usage: /load <file.json>.");
             s.load(std::string(arg));
             r.output = "Loaded " + std::string(arg) + " (" + std::to_string(s.messages().size()) + " messages).";
         }},
        {"template", "/template [name]", "switch the chat template; no name: list them", show_or_set_template},
        {"set", "/set [param value]", "change a setting (temp, top-k, top-p, ...); no argument: show them",
         show_or_set_setting},
        {"system", "/system [text]", "set the system prompt; no text: show it",
         [](Session& s, std::string_view arg, ChatCommandResult& r) {
             if (!arg.empty()) s.set_system_prompt(std::string(arg));
             r.output = "System prompt: " + (s.system_prompt().empty() ? std::string("(none)") : s.system_prompt());
         }},
        {"regen", "/regen", "write the last reply again",
         [](Session& s, std::string_view, ChatCommandResult& r) {
             s.regenerate();
             r.reply_started = true;
         }},
        {"undo", "/undo", "remove the last exchange",
         [](Session& s, std::string_view, ChatCommandResult& r) {
             r.output = s.undo().empty() ? "Nothing to undo." : "Removed the last exchange.";
         }},
        {"edit", "/edit [text]", "resend the last message changed; no text: edit it", edit},
        {"clear", "/clear", "start a new chat (the old one is autosaved)",
         [](Session& s, std::string_view, ChatCommandResult& r) {
             const auto path = s.autosave();
             s.clear();
             r.output = path.empty() ? "New chat." : "New chat (the last one is in " + path.string() + ").";
         }},
        {"prompt", "/prompt", "show the exact prompt text the model sees",
         [](Session& s, std::string_view, ChatCommandResult& r) { r.output = s.prompt_text(); }},
        {"quit", "/quit", "leave (the chat is autosaved)",
         [](Session&, std::string_view, ChatCommandResult& r) { r.quit = true; }},
        {"exit", "/exit", "same as /quit", [](Session&, std::string_view, ChatCommandResult& r) { r.quit = true; }},
    };
    return list;
}

}  // namespace

ChatCommandResult run_chat_command(Session& session, std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() != '/') return {};
    const size_t end = line.find_first_of(" \t");
    const std::string_view name = line.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    const std::string_view arg = end == std::string_view::npos ? std::string_view() : trim(line.substr(end));
    for (const auto& c : commands()) {
        if (name != c.name) continue;
        ChatCommandResult r;
        r.handled = true;
        c.run(session, arg, r);
        return r;
    }
    return {};
}

std::string chat_command_help() {
    std::string out;
    for (const auto& c : commands()) {
        std::string usage = c.usage;
        usage.resize(std::max<size_t>(usage.size(), 20), ' ');
        out += (out.empty() ? "" : "\n") + usage + " " + c.help;
    }
    return out;
}

}  // namespace natter
