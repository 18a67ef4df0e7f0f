#pragma once
// `natter serve`'s HTTP side: llama-server's endpoints and OpenAI's on cpp-httplib (used
// here only), over a SlotEngine. The socket is bound first and the model loaded after, so
// that /health can answer 503 while it loads, as llama-server's does.
//
//   HttpServer server(options);
//   server.bind();                    // throws natter::Error when the address is taken
//   std::thread t([&] { server.serve(); });
//   server.load_model();              // /health: 503, then 200
//   ...                               // on SIGINT / SIGTERM:
//   server.stop();  t.join();         // stop accepting, cancel what runs, return
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/slot_engine.h"

namespace natter::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                 // 0: any free port (port() tells which)
    std::string model_path;          // the file to load
    std::string model_name;          // what responses call the model (the -m argument)
    std::string chat_template;       // empty: the one the chat would pick for the model
    EngineOptions engine;
    GenerationParams defaults;       // sampling flags and -n of the command line
    std::vector<std::string> api_keys;  // empty: no key needed
    int timeout_seconds = 600;       // socket reads and writes, and a request's whole run
    bool metrics = false;            // /metrics on
    size_t max_body_bytes = 8u << 20;
    bool log_requests = true;        // one line per request on stderr (never a key)
};

class HttpServer {
public:
    explicit HttpServer(ServerOptions options);
    ~HttpServer();

    void bind();
    int port() const { return port_; }
    int slot_n_ctx() const;  // after load_model()
    // Serves until stop(); returns when in-flight requests have ended.
    void serve();
    // Loads the model and starts the engine; until then the endpoints answer 503.
    void load_model();
    // Stops accepting, cancels every request in flight; serve() then returns. Safe from any thread.
    void stop();

    struct State;

private:
    std::unique_ptr<State> state_;
    int port_ = 0;
};

}  // namespace natter::server
