#include "cli/config_file.h"

#include <CLI/CLI.hpp>

#include <filesystem>

#include "core/paths.h"

namespace natter::cli {

namespace {

// CLI11's TOML reader, with '_' in a key read as '-' (top_k = top-k), as llama_args does for flags.
class ConfigReader : public CLI::ConfigTOML {
public:
    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(input);
        for (CLI::ConfigItem& item : items) {
            for (char& c : item.name) {
                if (c == '_') c = '-';
            }
        }
        return items;
    }
};

}  // namespace

std::string default_config_file() {
    const std::filesystem::path dir = paths::config_dir();
    std::error_code ec;
    if (!std::filesystem::exists(dir / "config.toml", ec) && std::filesystem::exists(dir / "config.ini", ec)) {
        return (dir / "config.ini").string();
    }
    return (dir / "config.toml").string();
}

void use_config_file(CLI::App& app) {
    app.config_formatter(std::make_shared<ConfigReader>());
    app.set_config("--config", default_config_file(),
                   "Defaults for any command's long options, one [section] per command (TOML or INI)");
    app.allow_config_extras(CLI::config_extras_mode::error);
}

std::string config_error_message(const CLI::App& app, const CLI::ParseError& e) {
    const CLI::Option* opt = app.get_config_ptr();
    const std::string file = opt != nullptr && opt->count() > 0 ? opt->as<std::string>() : default_config_file();
    const std::string what = e.what();
    if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr) {
        // "INI was not able to parse chat.bogus" / "... parse [chat"
        const std::string prefix = "INI was not able to parse ";
        const std::string item = what.starts_with(prefix) ? what.substr(prefix.size()) : what;
        return "in the config file " + file + ", '" + item +
               "' is not a setting: each [section] is a command (chat, run, ...) and each key one of its long options (temp = 0.7)";
    }
    if (dynamic_cast<const CLI::FileError*>(&e) != nullptr && what.find(file) != std::string::npos) {
        return "cannot read the config file " + file;
    }
    return "";
}

}  // namespace natter::cli
