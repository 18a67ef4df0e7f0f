#include "prompts/template.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace natter {

namespace {

using Json = nlohmann::json;

// Reads one template file's keys, turning every problem into an Error that names
// the file and the key path ("roles.user.prefix").
class TemplateReader {
public:
    explicit TemplateReader(std::string_view source) : source_(source) {}

    [[noreturn]] void fail(const std::string& problem) const {
        throw Error("Chat template " + source_ + ": " + problem + ".");
    }

    Json parse(std::string_view text) const {
        try {
            return Json::parse(text);
        } catch (const Json::parse_error& e) {
            // e.what() starts with "[json.exception.parse_error.101] "; keep the readable part.
            std::string what = e.what();
            const auto cut = what.find("] ");
            fail("not valid JSON (" + (cut == std::string::npos ? what : what.substr(cut + 2)) + ")");
        }
    }

    // Every key of `object` must be one of `known`, to catch typos like "sufix".
    void check_keys(const Json& object, const std::string& where,
                    std::initializer_list<std::string_view> known) const {
        if (!object.is_object()) fail(quoted(where) + " must be a JSON object");
        for (const auto& [key, value] : object.items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                fail("unknown key " + quoted(join(where, key)));
            }
        }
    }

    std::string string(const Json& object, const std::string& where, std::string_view key,
                       std::string fallback) const {
        const auto it = object.find(key);
        if (it == object.end()) return fallback;
        if (!it->is_string()) fail(quoted(join(where, key)) + " must be a string");
        return it->get<std::string>();
    }

    bool boolean(const Json& object, std::string_view key, bool fallback) const {
        const auto it = object.find(key);
        if (it == object.end()) return fallback;
        if (!it->is_boolean()) fail(quoted(std::string(key)) + " must be true or false");
        return it->get<bool>();
    }

    RoleFormat role(const Json& roles, std::string_view name, bool required) const {
        const std::string where = join("roles", name);
        const auto it = roles.find(name);
        if (it == roles.end()) {
            if (required) fail("missing " + quoted(where));
            return {};
        }
        check_keys(*it, where, {"prefix", "suffix"});
        return {string(*it, where, "prefix", ""), string(*it, where, "suffix", "")};
    }

    std::vector<std::string> strings(const Json& object, std::string_view key) const {
        std::vector<std::string> out;
        const auto it = object.find(key);
        if (it == object.end()) return out;
        if (!it->is_array()) fail(quoted(std::string(key)) + " must be a list of strings");
        for (const auto& item : *it) {
            if (!item.is_string() || item.get<std::string>().empty()) {
                fail(quoted(std::string(key)) + " must hold only non-empty strings");
            }
            out.push_back(item.get<std::string>());
        }
        return out;
    }

private:
    static std::string join(std::string_view where, std::string_view key) {
        return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
    }
    static std::string quoted(const std::string& s) { return "\"" + s + "\""; }

    std::string source_;
};

// Names are typed after --template, so keep them to one shell-friendly word.
bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t\n\r\f\v";
    const auto first = s.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

}  // namespace

ChatTemplate ChatTemplate::from_json(std::string_view json_text, std::string_view source_name) {
    const TemplateReader reader(source_name);
    const Json root = reader.parse(json_text);
    reader.check_keys(root, "", {"schema", "name", "description", "bos_text", "tokenizer_adds_bos",
                                 "default_system", "system_in_first_user", "trim_content", "roles",
                                 "generation_prompt", "stop", "comment"});
    if (const auto it = root.find("schema"); it != root.end() && *it != 1) {
        reader.fail("uses schema " + it->dump() + ", but this natter reads schema 1");
    }

    ChatTemplate t;
    const std::string stem = std::filesystem::path(source_name).stem().string();
    t.name = reader.string(root, "", "name", stem);
    if (!valid_name(t.name)) {
        reader.fail("\"name\" must be one word of letters, digits, '-', '_' or '.'");
    }
    t.description = reader.string(root, "", "description", "");
    t.bos_text = reader.string(root, "", "bos_text", "");
    t.tokenizer_adds_bos = reader.boolean(root, "tokenizer_adds_bos", t.bos_text.empty());
    t.default_system = reader.string(root, "", "default_system", "");
    t.system_in_first_user = reader.boolean(root, "system_in_first_user", false);
    t.trim_content = reader.boolean(root, "trim_content", false);

    const auto roles = root.find("roles");
    if (roles == root.end()) reader.fail("missing \"roles\"");
    reader.check_keys(*roles, "roles", {"system", "user", "assistant"});
    t.system = reader.role(*roles, "system", false);
    t.user = reader.role(*roles, "user", true);
    t.assistant = reader.role(*roles, "assistant", true);

    t.generation_prompt = reader.string(root, "", "generation_prompt", t.assistant.prefix);
    t.stop = reader.strings(root, "stop");
    return t;
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages,
                                 bool add_generation_prompt) const {
    std::string out = bos_text;
    // Templates like llama-2 carry the system text into the next user turn.
    std::string pending_system;
    const auto flush_pending_as_user_turn = [&] {
        if (pending_system.empty()) return;
        out += user.prefix + pending_system + user.suffix;
        pending_system.clear();
    };
    const auto add_system = [&](std::string_view text) {
        const std::string block = system.prefix + std::string(text) + system.suffix;
        if (system_in_first_user) {
            pending_system += block;
        } else {
            out += block;
        }
    };

    if (!messages.empty() && messages.front().role != "system" && !default_system.empty()) {
        add_system(default_system);
    }
    for (const auto& message : messages) {
        const std::string_view content = trim_content ? trim(message.content) : message.content;
        if (message.role == "system") {
            add_system(content);
        } else if (message.role == "user") {
            out += user.prefix + pending_system;
            out += content;
            out += user.suffix;
            pending_system.clear();
        } else if (message.role == "assistant") {
            flush_pending_as_user_turn();
            out += assistant.prefix;
            out += content;
            out += assistant.suffix;
        } else {
            throw Error("Unknown chat role \"" + message.role + "\" (expected system, user or assistant).");
        }
    }
    flush_pending_as_user_turn();
    if (add_generation_prompt) out += generation_prompt;
    return out;
}

}  // namespace natter
