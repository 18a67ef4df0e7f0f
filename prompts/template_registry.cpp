#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "prompts/builtin_templates.h"
#include "prompts/template.h"

namespace natter {

namespace fs = std::filesystem;

TemplateRegistry::TemplateRegistry() {
    // A broken built-in is a build bug, not a user problem: fail loudly.
    for (const auto& file : builtin_template_files()) {
        ChatTemplate t = ChatTemplate::from_json(file.text, "(built-in) " + std::string(file.name));
        templates_.insert_or_assign(t.name, std::move(t));
    }
}

namespace {

// The *.json regular files of `dir`, sorted by name so the load order is stable.
std::vector<fs::path> json_files(const fs::path& dir, std::error_code& error) {
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        std::error_code ignored;
        if (it->path().extension() == ".json" && it->is_regular_file(ignored)) {
            files.push_back(it->path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::optional<std::string> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return text.str();
}

}  // namespace

void TemplateRegistry::load_directory(const fs::path& dir) {
    std::error_code error;
    if (!fs::exists(dir, error)) return;  // no user templates: the usual case
    const auto files = json_files(dir, error);
    if (error) {
        warnings_.push_back("Chat template directory " + dir.string() + ": " + error.message() + ".");
        return;
    }
    for (const auto& path : files) {
        const auto text = read_file(path);
        if (!text) {
            warnings_.push_back("Chat template " + path.string() + ": cannot be read.");
            continue;
        }
        try {
            ChatTemplate t = ChatTemplate::from_json(*text, path.string());
            if (const auto it = user_sources_.find(t.name); it != user_sources_.end()) {
                warnings_.push_back("Chat template " + path.string() + ": the name \"" + t.name +
                                    "\" is already taken by " + it->second + ", so it was skipped.");
                continue;
            }
            user_sources_.emplace(t.name, path.string());
            templates_.insert_or_assign(t.name, std::move(t));
        } catch (const Error& e) {
            warnings_.push_back(e.what());
        }
    }
}


const ChatTemplate* TemplateRegistry::find(std::string_view name) const {
    const auto it = templates_.find(name);
    return it == templates_.end() ? nullptr : &it->second;
}

const ChatTemplate& TemplateRegistry::get(std::string_view name) const {
    if (const auto* t = find(name)) return *t;
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("Unknown chat template \"" + std::string(name) + "\"; the known ones are " + known + ".");
}

std::vector<std::string> TemplateRegistry::names() const {
    std::vector<std::string> out;
    for (const auto& [name, t] : templates_) out.push_back(name);
    return out;
}

std::optional<std::string> TemplateRegistry::detect(std::string_view jinja) {
    const auto has = [&](std::string_view marker) { return jinja.find(marker) != std::string_view::npos; };
    // Order matters: the more specific markers first.
    if (has("<|im_sep|>")) return std::nullopt;  // phi-4: ChatML tokens, other layout
    if (has("<|im_start|>")) return "chatml";
    if (has("<|start_header_id|>")) return "llama-3";
    if (has("<start_of_turn>")) return "gemma";
    if (has("<|user|>")) return has("<|end|>") ? "phi-3" : "zephyr";
    if (has("[INST]")) return has("<<SYS>>") ? "llama-2" : "mistral";
    if (has("USER:")) return "vicuna";
    if (has("### Instruction:")) return "alpaca";
    return std::nullopt;
}

}  // namespace natter
