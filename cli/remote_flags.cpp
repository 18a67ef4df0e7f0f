#include "cli/remote_flags.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <cstring>

#include "cli/common_options.h"
#include "core/error.h"

namespace natter::cli {

void add_remote_options(CLI::App& cmd, RemoteFlags& f) {
    const char* group = "Remote model (an OpenAI-compatible server)";
    cmd.add_option("--remote", f.url,
                   "Use the model of an OpenAI-compatible server at URL (e.g. http://gpu-box:8000/v1) instead of a local file")
        ->group(group);
    auto* key = cmd.add_option("--api-key", f.api_key,
                               "The server's API key (better: --api-key-file, NATTER_API_KEY or OPENAI_API_KEY)")
                    ->group(group);
    cmd.add_option("--api-key-file", f.api_key_file, "Read the server's API key from the first line of a file")
        ->check(CLI::ExistingFile)
        ->excludes(key)
        ->group(group);
    cmd.add_option("--remote-model", f.model, "The server's model to use (default: the first of its /v1/models)")->group(group);
    cmd.add_option("--remote-timeout", f.timeout_seconds, "Give up a reply when the server sends nothing for this many seconds")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400))
        ->group(group);
}

RemoteOptions remote_options(const RemoteFlags& f) {
    RemoteOptions r;
    r.url = f.url;
    r.model = f.model;
    r.timeout_seconds = f.timeout_seconds;
    if (!f.api_key_file.empty()) {
        const std::string text = read_text_file(f.api_key_file, "API key");
        r.api_key = text.substr(0, text.find('\n'));
        while (!r.api_key.empty() && (r.api_key.back() == '\r' || r.api_key.back() == ' ')) r.api_key.pop_back();
        if (r.api_key.empty()) throw Error("The API key file " + f.api_key_file + " starts with an empty line.");
    } else if (!f.api_key.empty()) {
        r.api_key = f.api_key;
    } else if (const char* env = std::getenv("NATTER_API_KEY"); env && *env) {
        r.api_key = env;
    } else if (const char* openai = std::getenv("OPENAI_API_KEY"); openai && *openai) {
        r.api_key = openai;
    }
    return r;
}

void hide_secret_arguments(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        char* value = nullptr;
        if (std::strcmp(argv[i], "--api-key") == 0 || std::strcmp(argv[i], "--api_key") == 0) {
            if (i + 1 < argc) value = argv[++i];
        } else if (std::strncmp(argv[i], "--api-key=", 10) == 0 || std::strncmp(argv[i], "--api_key=", 10) == 0) {
            value = argv[i] + 10;
        }
        if (value) std::memset(value, 'x', std::strlen(value));
    }
}

}  // namespace natter::cli
