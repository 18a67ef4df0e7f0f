#include "app/model_path.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace natter::app {

std::string model_cache_dir() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) return std::string(xdg) + "/natter/models";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.cache/natter/models";
}

std::string resolve_model_path(const std::string& requested) {
    if (!requested.empty()) return requested;
    const std::string path = model_cache_dir() + "/" + kDefaultModelFile;
    if (!std::filesystem::exists(path)) {
        throw Error("no model given (-m) and the default model is not at " + path +
                    "; run scripts/setup to fetch it");
    }
    return path;
}

}  // namespace natter::app
