#pragma once
// Chat templates as data: each prompts/*.json file describes how one model family
// wants a conversation written out (role markers, where the system prompt goes, BOS,
// stop strings). render() turns a conversation into the prompt text; the registry
// holds the built-in templates plus the user's own.
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

// The text written before and after one message of a role.
struct RoleFormat {
    std::string prefix;
    std::string suffix;
};

// JSON schema (every key but "roles.user" and "roles.assistant" is optional):
// {
//   "name": "llama-2",                  // default: the file name without .json
//   "description": "one line for --template help",
//   "bos_text": "",                     // text put once at the very start, e.g. "<|begin_of_text|>"
//   "tokenizer_adds_bos": false,        // may the tokenizer add BOS as the model's metadata says?
//                                       //   default: true unless bos_text is set
//   "default_system": "",               // system prompt used when the conversation has none
//   "system_in_first_user": true,       // system text goes inside the next user turn, after its prefix
//   "trim_content": true,               // strip whitespace around each message's text
//   "roles": { "system": {"prefix": "<<SYS>>\n", "suffix": "\n<</SYS>>\n\n"},
//              "user": {"prefix": "<s>[INST] ", "suffix": " [/INST]"},
//              "assistant": {"prefix": " ", "suffix": " </s>"} },
//   "generation_prompt": "",            // appended to ask for a reply; default: roles.assistant.prefix
//   "stop": ["[INST]"],                 // generation stops when the reply contains one of these
//   "comment": "free text, ignored"
// }
struct ChatTemplate {
    std::string name;
    std::string description;
    std::string bos_text;
    bool tokenizer_adds_bos = true;
    std::string default_system;
    bool system_in_first_user = false;
    bool trim_content = false;
    RoleFormat system;
    RoleFormat user;
    RoleFormat assistant;
    std::string generation_prompt;
    std::vector<std::string> stop;

    // Parses and checks one template file. Throws natter::Error naming `source_name`
    // and the problem (bad JSON, a missing or mistyped key, an unknown key).
    static ChatTemplate from_json(std::string_view json_text, std::string_view source_name);

    // Renders the whole conversation; add_generation_prompt appends the text that asks
    // the model for the assistant's reply. Throws natter::Error on an unknown role.
    std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;
};

class TemplateRegistry {
public:
    // The built-in templates only (embedded from prompts/*.json at build time).
    TemplateRegistry();

    // Adds every *.json in `dir`; a user template replaces a built-in of the same name.
    // A file that fails to load becomes a warning ("<file>: <problem>") and the others
    // still load. A missing directory is not an error.
    void load_directory(const std::filesystem::path& dir);

    const ChatTemplate* find(std::string_view name) const;  // nullptr if unknown
    const ChatTemplate& get(std::string_view name) const;   // throws natter::Error if unknown
    std::vector<std::string> names() const;                 // sorted
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Guesses the template family from a model's tokenizer.chat_template (Jinja source):
    // "chatml", "llama-3", "llama-2", "mistral", "zephyr", "phi-3", "gemma", "vicuna",
    // "alpaca"; nullopt when it is none of these.
    static std::optional<std::string> detect(std::string_view jinja_chat_template);

private:
    std::map<std::string, ChatTemplate, std::less<>> templates_;
    std::map<std::string, std::string, std::less<>> user_sources_;  // name -> file, for duplicates
    std::vector<std::string> warnings_;
};

}  // namespace natter
