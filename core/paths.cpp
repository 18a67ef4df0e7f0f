#include "core/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "core/error.h"

namespace natter::paths {

namespace {

namespace fs = std::filesystem;

const char* nonempty_env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
}

fs::path xdg_dir(const char* variable, const char* fallback_below_home) {
    if (const char* value = nonempty_env(variable)) return fs::path(value) / "natter";
    return home_dir() / fallback_below_home / "natter";
}

}  // namespace

fs::path home_dir() {
    if (const char* home = nonempty_env("HOME")) return home;
    if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr && *pw->pw_dir != '\0') {
        return pw->pw_dir;
    }
    throw Error("HOME is not set and this user has no home directory, so natter has nowhere to keep its files.");
}

fs::path cache_dir() { return xdg_dir("XDG_CACHE_HOME", ".cache"); }
fs::path config_dir() { return xdg_dir("XDG_CONFIG_HOME", ".config"); }
fs::path data_dir() { return xdg_dir("XDG_DATA_HOME", ".local/share"); }

fs::path model_cache_dir() { return cache_dir() / "models"; }
fs::path sessions_dir() { return data_dir() / "sessions"; }
fs::path history_file() { return data_dir() / "history"; }
fs::path user_templates_dir() { return config_dir() / "templates"; }

fs::path default_model() { return model_cache_dir() / kDefaultModelFile; }

std::string resolve_model_path(const std::string& requested) {
    if (!requested.empty()) return expand_home(requested).string();
    const fs::path path = default_model();
    if (!fs::exists(path)) {
        throw Error("no model given (-m) and the default model is not at " + path.string() +
                    "; run scripts/setup to fetch it");
    }
    return path.string();
}

fs::path expand_home(const std::string& path) {
    if (path == "~") return home_dir();
    if (path.starts_with("~/")) return home_dir() / path.substr(2);
    return path;
}

}  // namespace natter::paths
