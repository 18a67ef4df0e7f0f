#include "server/http_server.h"

#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <dirent.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "inference/model.h"
#include "openai/sse.h"
#include "prompts/template.h"
#include "server/api.h"
#include "server/endpoints.h"
#include "session/chat_prompt.h"

namespace natter::server {

namespace {

using Ms = std::chrono::milliseconds;

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
}

// The socket of a request's connection, found by its two ports among this process's open
// descriptors (cpp-httplib does not hand it to handlers), or -1.
int connection_fd(const httplib::Request& req) {
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return -1;
    int found = -1;
    while (dirent* e = readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2) continue;
        sockaddr_storage local{}, peer{};
        socklen_t ll = sizeof local, pl = sizeof peer;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
        if (port_of(local) == req.local_port && port_of(peer) == req.remote_port) {
            found = fd;
            break;
        }
    }
    closedir(dir);
    return found;
}

// True once the client has closed its side of the connection (or it broke).
bool peer_gone(int fd) {
    if (fd < 0) return false;
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    const auto now = std::chrono::system_clock::now().time_since_epoch().count();
    return std::string(prefix) + std::to_string(now) + "-" + std::to_string(++counter);
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status, error_json(e.status, e.type, e.what())); }

std::string sse(const json& j) { return openai::sse_event(j.dump(-1, ' ', false, json::error_handler_t::replace)); }

// An engine result that is an error, as the ApiError a client gets; nullopt when it is not one.
std::optional<ApiError> result_error(const GenerationResult& r) {
    if (r.stop == StopType::Timeout) return ApiError(408, "timeout_error", "The request ran past the server's --timeout.");
    if (r.stop == StopType::Error) return ApiError(500, "server_error", r.error);
    if (r.stop == StopType::Cancelled) return ApiError(503, "unavailable_error", "The request was cancelled: the server is stopping.");
    return std::nullopt;
}

}  // namespace

struct HttpServer::State {
    explicit State(ServerOptions o) : options(std::move(o)) {}
    ServerOptions options;
    httplib::Server http;
    std::atomic<bool> ready{false};
    std::atomic<bool> stopping{false};
    std::shared_ptr<const Model> model;
    std::unique_ptr<SlotEngine> engine;
    TemplateRegistry templates;
    ApiContext ctx;
    std::atomic<uint64_t> http_requests{0};

    void routes();
    bool authorized(const httplib::Request& req) const;
    void completion(const httplib::Request& req, httplib::Response& res, bool oai, bool chat);
    void respond(const httplib::Request& req, httplib::Response& res, const CompletionRequest& cr, bool oai, bool chat);
    void stream(httplib::Response& res, std::shared_ptr<Job> job, std::shared_ptr<CompletionRequest> cr, int fd,
                bool oai, bool chat);
};

HttpServer::HttpServer(ServerOptions options) : state_(std::make_unique<State>(std::move(options))) { state_->routes(); }

HttpServer::~HttpServer() { stop(); }

void HttpServer::bind() {
    const ServerOptions& o = state_->options;
    httplib::Server& http = state_->http;
    http.set_payload_max_length(o.max_body_bytes);
    http.set_read_timeout(o.timeout_seconds, 0);
    http.set_write_timeout(o.timeout_seconds, 0);
    http.set_keep_alive_timeout(2);
    // Enough threads for every slot and the whole queue, and a few for /health and the like.
    const size_t threads = static_cast<size_t>(o.engine.n_slots + o.engine.queue_limit + 4);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    if (o.port == 0) {
        port_ = http.bind_to_any_port(o.host.c_str());
    } else {
        port_ = http.bind_to_port(o.host.c_str(), o.port) ? o.port : -1;
    }
    if (port_ < 0) {
        throw Error("Cannot listen on " + o.host + ":" + std::to_string(o.port) +
                    " (the port may be in use, or the address is not this machine's).");
    }
}

void HttpServer::serve() { state_->http.listen_after_bind(); }

void HttpServer::load_model() {
    State& s = *state_;
    s.model = std::shared_ptr<const Model>(Model::load(s.options.model_path));
    s.templates.load_directory({});
    s.ctx.model = s.model.get();
    s.ctx.model_name = s.options.model_name;
    s.ctx.defaults = s.options.defaults;
    s.ctx.chat_template = &chat_template_for_model(s.templates, *s.model, s.options.chat_template);
    s.engine = std::make_unique<SlotEngine>(s.model, s.options.engine);
    s.ctx.slot_n_ctx = s.engine->slot_n_ctx();
    s.ready = true;
}

int HttpServer::slot_n_ctx() const { return state_->engine ? state_->engine->slot_n_ctx() : 0; }

void HttpServer::stop() {
    State& s = *state_;
    if (s.stopping.exchange(true)) return;
    if (s.engine) s.engine->cancel_all();
    s.http.stop();
}

bool HttpServer::State::authorized(const httplib::Request& req) const {
    if (options.api_keys.empty()) return true;
    std::string key = req.get_header_value("X-Api-Key");
    const std::string auth = req.get_header_value("Authorization");
    if (auth.starts_with("Bearer ")) key = auth.substr(7);
    return std::find(options.api_keys.begin(), options.api_keys.end(), key) != options.api_keys.end();
}

void HttpServer::State::routes() {
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        ++http_requests;
        if (req.path != "/health" && req.path != "/v1/health" && !authorized(req)) {
            send_json(res, 401, error_json(401, "authentication_error", "Invalid API Key"));
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!ready && req.path != "/health" && req.path != "/v1/health") {
            send_json(res, 503, error_json(503, "unavailable_error", "Loading model"));
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 413) {
            send_json(res, 413, error_json(413, "invalid_request_error",
                                           "The request body is larger than the server's limit of " +
                                               std::to_string(options.max_body_bytes) + " bytes."));
        } else if (res.status == 404) {
            send_json(res, 404, error_json(404, "not_found_error", "There is no endpoint " + req.method + " " + req.path + "."));
        } else {
            send_json(res, res.status, error_json(res.status, "invalid_request_error",
                                                  "The request failed with HTTP status " + std::to_string(res.status) + "."));
        }
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_json(res, 500, error_json(500, "server_error", what));
    });
    if (options.log_requests) {
        http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
            std::fprintf(stderr, "natter serve: %s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
        });
    }
    const auto health = [this](const httplib::Request&, httplib::Response& res) {
        if (!ready) return send_json(res, 503, error_json(503, "unavailable_error", "Loading model"));
        send_json(res, 200, {{"status", "ok"}});
    };
    http.Get("/health", health);
    http.Get("/v1/health", health);
    const auto post = [this](const char* path, auto fn) {
        http.Post(path, [fn](const httplib::Request& req, httplib::Response& res) {
            try {
                fn(req, res);
            } catch (const ApiError& e) {
                send_error(res, e);
            } catch (const Error& e) {
                send_error(res, ApiError::invalid(e.what()));
            }
        });
    };
    post("/completion", [this](const auto& req, auto& res) { completion(req, res, false, false); });
    post("/completions", [this](const auto& req, auto& res) { completion(req, res, false, false); });
    post("/v1/completions", [this](const auto& req, auto& res) { completion(req, res, true, false); });
    post("/v1/chat/completions", [this](const auto& req, auto& res) { completion(req, res, true, true); });
    post("/chat/completions", [this](const auto& req, auto& res) { completion(req, res, true, true); });
    post("/tokenize", [this](const auto& req, auto& res) { send_json(res, 200, tokenize_json(parse_body(req.body), *model)); });
    post("/detokenize", [this](const auto& req, auto& res) { send_json(res, 200, detokenize_json(parse_body(req.body), *model)); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, models_json(ctx, options.model_path)); });
    http.Get("/models", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, models_json(ctx, options.model_path)); });
    http.Get("/props", [this](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, props_json(ctx, *engine, options.model_path, options.metrics));
    });
    http.Get("/slots", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, slots_json(ctx, *engine)); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        if (!options.metrics) {
            return send_json(res, 501, error_json(501, "not_supported_error",
                                                  "This server's /metrics is off; start it with --metrics."));
        }
        res.set_content(metrics_text(*engine, http_requests.load()), "text/plain; version=0.0.4");
    });
}

void HttpServer::State::completion(const httplib::Request& req, httplib::Response& res, bool oai, bool chat) {
    const json body = parse_body(req.body);
    CompletionRequest cr = chat ? parse_chat(body, ctx) : parse_completion(body, ctx);
    if (options.timeout_seconds > 0) cr.params.deadline = Clock::now() + std::chrono::seconds(options.timeout_seconds);
    respond(req, res, cr, oai, chat);
}

void HttpServer::State::respond(const httplib::Request& req, httplib::Response& res, const CompletionRequest& cr, bool oai,
                                bool chat) {
    if (stopping) throw ApiError(503, "unavailable_error", "The server is stopping.");
    std::shared_ptr<Job> job;
    try {
        job = engine->submit(cr.params);
    } catch (const QueueFull& e) {
        throw ApiError(429, "unavailable_error", e.what());
    }
    const int fd = connection_fd(req);
    if (cr.stream) {
        stream(res, job, std::make_shared<CompletionRequest>(cr), fd, oai, chat);
        return;
    }
    for (;;) {
        Job::Update u = job->wait(Ms(100));
        if (u.result) {
            if (auto e = result_error(*u.result)) throw *e;
            const std::string id = new_id(chat ? "chatcmpl-" : "cmpl-");
            send_json(res, 200, oai ? oai_completion_json(*u.result, ctx, id, chat) : completion_json(*u.result, cr, ctx));
            return;
        }
        if (peer_gone(fd)) {  // nobody to answer: stop generating for them now
            job->cancel();
            res.status = 499;
            return;
        }
    }
}

void HttpServer::State::stream(httplib::Response& res, std::shared_ptr<Job> job, std::shared_ptr<CompletionRequest> cr, int fd,
                               bool oai, bool chat) {
    const std::string id = new_id(chat ? "chatcmpl-" : "cmpl-");
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job, cr, fd, oai, chat, id](size_t, httplib::DataSink& sink) {
            const auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
            int n_predicted = 0;
            if (oai && chat && !write(sse(oai_chunk("", nullptr, ctx, id, true, true)))) return job->cancel(), false;
            for (;;) {
                Job::Update u = job->wait(Ms(100));
                for (const Piece& p : u.pieces) {
                    if (p.token >= 0) ++n_predicted;
                    if (oai && p.text.empty()) continue;
                    const json j = oai ? oai_chunk(p.text, nullptr, ctx, id, chat, false)
                                       : completion_chunk(p, n_predicted, static_cast<int>(cr->params.prompt.size()),
                                                          ctx.model->tokenizer());
                    if (!write(sse(j))) return job->cancel(), false;
                }
                if (u.result) {
                    const GenerationResult& r = *u.result;
                    if (auto e = result_error(r)) {
                        write(sse(error_json(e->status, e->type, e->what())));
                    } else if (oai) {
                        const std::string reason = finish_reason(r);
                        json last = oai_chunk("", &reason, ctx, id, chat, false);
                        last["timings"] = timings_json(r);
                        if (!chat || cr->include_usage) last["usage"] = usage_json(r);
                        write(sse(last));
                    } else {
                        write(sse(completion_json(r, *cr, ctx)));
                    }
                    if (oai) write(openai::sse_event("[DONE]"));
                    sink.done();
                    return true;
                }
                if (peer_gone(fd)) return job->cancel(), false;
            }
        },
        [job](bool) { job->cancel(); });  // the stream ended (or never began): nothing more to generate
}

}  // namespace natter::server
