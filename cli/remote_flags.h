#pragma once
// The flags that put `natter chat` and `natter run` on a model behind an OpenAI-compatible
// server: --remote URL, --api-key / --api-key-file, --remote-model, --remote-timeout.
#include <string>

#include "session/session.h"

namespace CLI {
class App;
}

namespace natter::cli {

struct RemoteFlags {
    std::string url;           // --remote; empty: the local model
    std::string api_key;       // --api-key (hidden from `ps` by hide_secret_arguments)
    std::string api_key_file;  // --api-key-file
    std::string model;         // --remote-model
    int timeout_seconds = 120;  // --remote-timeout
};

void add_remote_options(CLI::App& cmd, RemoteFlags& flags);

// The server and key the flags ask for. The key: --api-key-file, else --api-key, else
// NATTER_API_KEY, else OPENAI_API_KEY, else none. Throws natter::Error for an unreadable or
// empty key file.
RemoteOptions remote_options(const RemoteFlags& flags);

// Overwrites the value of --api-key (either spelling) in argv with 'x's, so that `ps` and
// /proc/PID/cmdline do not show it once the arguments are parsed.
void hide_secret_arguments(int argc, char** argv);

}  // namespace natter::cli
