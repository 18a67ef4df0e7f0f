#include "core/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "core/model_catalog.h"

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

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::vector<std::string> model_files(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.extension() == ".gguf" && it->is_regular_file(ec)) names.push_back(p.filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string resolve_model_path(const std::string& requested) {
    const fs::path dir = model_cache_dir();
    if (requested.empty()) {
        const fs::path path = default_model();
        if (!fs::exists(path)) {
            throw Error("no model given (-m) and the default model is not at " + path.string() +
                        "; `natter pull default` (or scripts/setup) fetches it");
        }
        return path.string();
    }
    const fs::path given = expand_home(requested);
    std::error_code ec;
    // A path that exists, or that names a folder, is the user's path; Model::load says what is wrong with it.
    if (fs::exists(given, ec) || requested.find('/') != std::string::npos) return given.string();

    // A name: the file itself in the models folder, NAME.gguf, a model natter knows, or a unique prefix.
    for (const std::string& name : {requested, requested + ".gguf"}) {
        if (fs::is_regular_file(dir / name, ec)) return (dir / name).string();
    }
    if (const KnownModel* known = find_known_model(requested)) {
        if (fs::is_regular_file(dir / known->file, ec)) return (dir / known->file).string();
        throw Error("the model " + known->name + " is not fetched yet; `natter pull " + known->name +
                    "` fetches it (" + std::to_string((known->bytes + 500000) / 1000000) + " MB)");
    }
    std::vector<std::string> matches;
    for (const std::string& name : model_files(dir)) {
        if (lower(name).starts_with(lower(requested))) matches.push_back(name);
    }
    if (matches.size() == 1) return (dir / matches[0]).string();
    if (matches.size() > 1) {
        std::string list;
        for (const std::string& m : matches) list += (list.empty() ? "" : ", ") + m;
        throw Error("'" + requested + "' matches " + std::to_string(matches.size()) + " models in " + dir.string() +
                    " (" + list + "); give more of the name");
    }
    throw Error("no model file '" + requested + "', and no model in " + dir.string() +
                " starts with that name; `natter models` lists them");
}

fs::path expand_home(const std::string& path) {
    if (path == "~") return home_dir();
    if (path.starts_with("~/")) return home_dir() / path.substr(2);
    return path;
}

}  // namespace natter::paths
