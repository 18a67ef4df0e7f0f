#pragma once
// Where models live when the user names none.
#include <string>

namespace natter::app {

// $XDG_CACHE_HOME/natter/models (or ~/.cache/natter/models).
std::string model_cache_dir();
// The default model's file name inside model_cache_dir().
inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
// `requested` when non-empty; else the default model, or an error explaining how to get it.
std::string resolve_model_path(const std::string& requested);

}  // namespace natter::app
