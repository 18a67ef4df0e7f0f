#pragma once
// Where natter keeps its files, by the XDG base directory rules. The one home for these
// paths: product code and tests call these functions, never getenv("HOME") themselves.
//
//   cache  $XDG_CACHE_HOME/natter   else ~/.cache/natter         models, the Python tool venv
//   config $XDG_CONFIG_HOME/natter  else ~/.config/natter        user chat templates
//   data   $XDG_DATA_HOME/natter    else ~/.local/share/natter   autosaved chats, input history
//
// An unset or empty XDG variable falls back to the home directory: $HOME, else the
// password database's entry for this user. With neither, natter::Error says so.
#include <filesystem>
#include <string>
#include <vector>

namespace natter::paths {

std::filesystem::path home_dir();
std::filesystem::path cache_dir();
std::filesystem::path config_dir();
std::filesystem::path data_dir();

std::filesystem::path model_cache_dir();     // cache_dir() / "models"
std::filesystem::path sessions_dir();        // data_dir() / "sessions": autosaves and /save without a name
std::filesystem::path history_file();        // data_dir() / "history": the chat's input history
std::filesystem::path user_templates_dir();  // config_dir() / "templates"

// The default model's file name inside model_cache_dir() (scripts/setup fetches it).
inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
std::filesystem::path default_model();
// The model file -m names: empty, the default model; a path that exists or has a '/', that
// path (a leading ~/ expanded); else a name looked up in model_cache_dir(): the file NAME,
// NAME.gguf, a model natter knows (core/model_catalog.h) or the one file whose name starts
// with NAME (case-insensitive). natter::Error in one sentence when nothing, or more than one
// file, matches, or the default model is missing.
std::string resolve_model_path(const std::string& requested);

// The names of the *.gguf files in `dir` (regular files only), sorted; none if it cannot be read.
std::vector<std::string> model_files(const std::filesystem::path& dir);

// "~/x" -> home_dir()/x; anything else unchanged.
std::filesystem::path expand_home(const std::string& path);

}  // namespace natter::paths
