// `natter serve`: llama-server's HTTP API and OpenAI's on a local model, many clients at once.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "core/paths.h"
#include "server/http_server.h"

namespace natter::cli {

namespace {

struct ServeOptions {
    CommonOptions common;
    std::string host = "127.0.0.1";
    int port = 8080;
    int n_parallel = 1;
    std::vector<std::string> api_keys;
    std::string api_key_file;
    int timeout = 600;
    bool metrics = false;
    std::string chat_template;
};

// --api-key may be given several times or as a comma-separated list; --api-key-file holds one
// key a line.
std::vector<std::string> api_keys(const ServeOptions& o) {
    std::vector<std::string> keys;
    const auto add = [&](const std::string& list, char sep) {
        std::istringstream in(list);
        for (std::string k; std::getline(in, k, sep);) {
            while (!k.empty() && (k.back() == '\r' || k.back() == ' ')) k.pop_back();
            if (!k.empty()) keys.push_back(k);
        }
    };
    for (const std::string& k : o.api_keys) add(k, ',');
    if (!o.api_key_file.empty()) {
        const size_t before = keys.size();
        add(read_text_file(o.api_key_file, "API key"), '\n');
        if (keys.size() == before) throw Error("The API key file " + o.api_key_file + " holds no key.");
    }
    return keys;
}

void serve(const ServeOptions& o) {
    server::ServerOptions so;
    so.host = o.host;
    so.port = o.port;
    so.model_path = paths::resolve_model_path(o.common.model);
    so.model_name = o.common.model.empty() ? so.model_path : o.common.model;
    so.chat_template = o.chat_template;
    so.engine.n_ctx = o.common.n_ctx;
    so.engine.n_slots = o.n_parallel;
    so.engine.n_batch = o.common.n_batch;
    so.engine.n_threads = threads_to_use(o.common.n_threads);
    so.engine.flash_attn = o.common.flash_attn;
    so.engine.queue_limit = std::max(16, 4 * o.n_parallel);
    so.defaults.sampling = o.common.sampling;
    so.defaults.n_predict = o.common.n_predict;
    so.api_keys = api_keys(o);
    so.timeout_seconds = o.timeout;
    so.metrics = o.metrics;

    // SIGINT and SIGTERM are taken by sigwait below, in this thread only: every thread made
    // from here on inherits the blocked mask. A client that went away must not kill us.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    server::HttpServer http(so);
    http.bind();
    std::fprintf(stderr, "natter serve: listening on http://%s:%d (loading %s)\n", so.host.c_str(), http.port(),
                 so.model_path.c_str());
    std::thread serving([&] { http.serve(); });
    std::exception_ptr load_error;
    std::thread loading([&] {
        try {
            http.load_model();
            std::fprintf(stderr, "natter serve: ready: %d slot%s of %d tokens, %s\n", o.n_parallel,
                         o.n_parallel == 1 ? "" : "s", http.slot_n_ctx(),
                         so.api_keys.empty() ? "no API key" : "API key required");
        } catch (...) {
            load_error = std::current_exception();
            ::kill(::getpid(), SIGTERM);
        }
    });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    loading.join();
    if (!load_error) std::fprintf(stderr, "natter serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http.stop();
    serving.join();
    if (load_error) std::rethrow_exception(load_error);
    std::fputs("natter serve: stopped\n", stderr);
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto o = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve the model over HTTP: llama-server's API and OpenAI's");
    o->common.n_ctx = 4096;  // llama-server's defaults: shared by the slots, and no repeat penalty
    o->common.sampling.repeat_penalty = 1.0f;
    add_common_options(*cmd, o->common, "Default reply limit in tokens for requests without n_predict (-1: none)");
    cmd->add_option("--host", o->host, "Address to listen on (127.0.0.1: this machine only)")->capture_default_str();
    cmd->add_option("--port", o->port, "Port to listen on (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd->add_option("--parallel", o->n_parallel, "-np: slots, requests decoded together (each has -c / -np tokens)")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    cmd->add_option("--api-key", o->api_keys, "Key clients must send (Authorization: Bearer KEY); repeatable or comma-separated");
    cmd->add_option("--api-key-file", o->api_key_file, "File with one API key a line")->check(CLI::ExistingFile);
    cmd->add_option("--timeout", o->timeout, "Seconds a request may take, and a socket read or write (0: no limit)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 24));
    cmd->add_flag("--metrics", o->metrics, "Serve Prometheus metrics at /metrics");
    cmd->add_option("--chat-template", o->chat_template, "Template for /v1/chat/completions (default: the model's)");
    cmd->callback([o]() { serve(*o); });
}

}  // namespace natter::cli
