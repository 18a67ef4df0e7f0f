#include "openai/http_client.h"

#include <httplib.h>
#include <netdb.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "openai/protocol.h"

namespace natter::openai {

// Outside the anonymous namespace: HttpClient::State holds one (a member's type with internal
// linkage is an error under gcc's -Wsubobject-linkage when this file is compiled in a batch).
namespace detail {
struct Url {
    std::string scheme;  // "http" or "https"
    std::string host;
    int port = 0;
    std::string path;    // "/v1", never ending in '/'
};
}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;
using detail::Url;

Url parse_url(const std::string& url) {
    const auto bad = [&](const std::string& why) {
        return Error("The remote URL \"" + url + "\" " + why + " (e.g. http://127.0.0.1:8080/v1).");
    };
    Url u;
    const size_t sep = url.find("://");
    if (sep == std::string::npos) throw bad("has no http:// or https:// in front");
    u.scheme = url.substr(0, sep);
    for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.scheme != "http" && u.scheme != "https") throw bad("must start with http:// or https://");
    const std::string rest = url.substr(sep + 3);
    const size_t slash = rest.find_first_of("/?#");
    const std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string::npos) {
        throw Error("The remote URL carries a user name or key; give the key with --api-key-file FILE or "
                    "NATTER_API_KEY instead, so that it stays out of transcripts and `ps`.");
    }
    if (u.path.find_first_of("?#") != std::string::npos) throw bad("must not have a query (?...) or fragment (#...)");
    std::string host = authority;
    std::string port;
    if (host.starts_with('[')) {  // [::1]:8080
        const size_t close = host.find(']');
        if (close == std::string::npos) throw bad("has an unclosed [ in its host");
        port = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!port.empty() && !port.starts_with(':')) throw bad("has text after its [host]");
        if (!port.empty()) port = port.substr(1);
    } else if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
    }
    if (host.empty()) throw bad("has no host");
    u.host = host;
    if (port.empty()) {
        u.port = u.scheme == "https" ? 443 : 80;
    } else {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) throw bad("has a port that is not a number");
        u.port = std::stoi(port);
        if (u.port < 1 || u.port > 65535) throw bad("has a port outside 1-65535");
    }
    while (u.path.ends_with('/')) u.path.pop_back();
    if (u.path.empty()) u.path = "/v1";
    return u;
}

std::string host_port(const Url& u) {
    const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    return host + ":" + std::to_string(u.port);
}

int retry_after(const httplib::Response& res) {
    const std::string v = res.get_header_value("Retry-After");
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(v);
}

}  // namespace

struct HttpClient::State {
    Endpoint endpoint;
    detail::Url url;
    std::mutex mutex;                  // guards `client` against cancel() from another thread
    httplib::Client* client = nullptr;  // the request in flight
    std::atomic<bool> cancelled{false};

    std::unique_ptr<httplib::Client> make_client() const {
        auto c = std::make_unique<httplib::Client>(url.scheme + "://" + host_port(url));
        c->set_connection_timeout(endpoint.connect_timeout_seconds, 0);
        c->set_read_timeout(endpoint.timeout_seconds, 0);
        c->set_write_timeout(endpoint.timeout_seconds, 0);
        c->set_keep_alive(false);
        if (!endpoint.api_key.empty()) c->set_bearer_token_auth(endpoint.api_key);
        return c;
    }

    // The sentence for a request that got no HTTP answer.
    RemoteError transport_error(httplib::Error e, const std::string& what, bool got_bytes, double quiet_s) const {
        const std::string where = url.scheme + "://" + host_port(url);
        using K = RemoteError::Kind;
        switch (e) {
            case httplib::Error::Canceled: return RemoteError(K::Cancelled, "The request to " + where + " was stopped");
            case httplib::Error::Connection: {
                addrinfo hints{};
                hints.ai_socktype = SOCK_STREAM;
                addrinfo* found = nullptr;
                const int rc = ::getaddrinfo(url.host.c_str(), nullptr, &hints, &found);
                if (found) ::freeaddrinfo(found);
                if (rc != 0) {
                    return RemoteError(K::Connect, "Cannot find the host " + url.host + " (" + gai_strerror(rc) +
                                                       "): check the name in --remote");
                }
                return RemoteError(K::Connect, "Cannot connect to " + where +
                                                   ": the connection was refused (is the server running there?)");
            }
            case httplib::Error::ConnectionTimeout:
                return RemoteError(K::Timeout, "Cannot connect to " + where + ": no answer within " +
                                                   std::to_string(endpoint.connect_timeout_seconds) + " s");
            case httplib::Error::SSLConnection:
                return RemoteError(K::Tls, "The TLS handshake with " + where +
                                               " failed (is it an https server? a plain http one wants http://)");
            case httplib::Error::SSLServerVerification:
                return RemoteError(K::Tls, "The TLS certificate of " + where + " could not be verified");
            case httplib::Error::SSLLoadingCerts:
                return RemoteError(K::Tls, "The system's TLS certificates could not be loaded to check " + where);
            case httplib::Error::Read:
                if (quiet_s + 0.5 >= endpoint.timeout_seconds) {
                    return RemoteError(K::Timeout, "The server at " + where + " sent nothing for " +
                                                       std::to_string(endpoint.timeout_seconds) + " s (--remote-timeout), so the " +
                                                       what + " was given up");
                }
                return RemoteError(K::Cut, got_bytes ? "The connection to " + where + " broke in the middle of the " + what
                                                     : "The server at " + where + " closed the connection without answering");
            default:
                return RemoteError(K::Connect, "The " + what + " to " + where + " failed: " + httplib::to_string(e));
        }
    }

    RemoteError http_error(int status, const std::string& body, int retry, const std::string& method,
                           const std::string& path) const {
        const std::string server_says = error_message(body);
        const std::string detail = "HTTP " + std::to_string(status) + (server_says.empty() ? "" : ": " + server_says);
        const std::string where = url.scheme + "://" + host_port(url);
        std::string m;
        if (status == 401 || status == 403) {
            m = endpoint.api_key.empty()
                    ? "The server at " + where + " wants an API key (" + detail +
                          "); give it with --api-key-file FILE or NATTER_API_KEY"
                    : "The server at " + where + " refused the API key (" + detail + ")";
        } else if (status == 404) {
            m = "The server at " + where + " has no " + method + " " + path + " (" + detail + ")";
            if (server_says.find("odel") == std::string::npos) m += "; is the URL right? it usually ends in /v1";
        } else if (status == 429) {
            m = "The server is busy (" + detail + ")" +
                (retry >= 0 ? "; it asks to wait " + std::to_string(retry) + " s before trying again" : "");
        } else if (status >= 500) {
            m = "The server failed (" + detail + ")" +
                (retry >= 0 ? "; it asks to wait " + std::to_string(retry) + " s before trying again" : "");
        } else {
            m = "The server refused the request (" + detail + ")";
        }
        return RemoteError(RemoteError::Kind::Http, m, status, retry);
    }

    // Runs one request; the 200 answer's bytes go to on_data.
    void send(const std::string& method, const std::string& path, const std::string& body,
              const std::function<bool(std::string_view)>& on_data) {
        const std::string full = url.path + path;
        auto client = make_client();
        {
            std::lock_guard lock(mutex);
            this->client = client.get();
        }
        struct Clear {
            State& s;
            ~Clear() {
                std::lock_guard lock(s.mutex);
                s.client = nullptr;
            }
        } clear{*this};
        if (cancelled) throw transport_error(httplib::Error::Canceled, "request", false, 0);

        httplib::Request req;
        req.method = method;
        req.path = full;
        req.headers = {{"Accept", method == "POST" ? "text/event-stream" : "application/json"}};
        if (method == "POST") {
            req.body = body;
            req.headers.emplace("Content-Type", "application/json");
        }
        int status = 0;
        std::string error_body;
        bool got_bytes = false;
        auto last_byte = Clock::now();
        req.response_handler = [&](const httplib::Response& r) {
            status = r.status;
            last_byte = Clock::now();
            return !cancelled.load();
        };
        bool stopped_by_caller = false;
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            last_byte = Clock::now();
            got_bytes = true;
            if (cancelled) return false;
            if (status != 200) {
                if (error_body.size() < 65536) error_body.append(data, std::min<size_t>(n, 65536 - error_body.size()));
                return true;
            }
            if (!on_data(std::string_view(data, n))) {
                stopped_by_caller = true;
                return false;
            }
            return true;
        };
        httplib::Response res;
        httplib::Error error = httplib::Error::Success;
        const bool ok = client->send(req, res, error);
        if (stopped_by_caller) return;
        const std::string what = method == "POST" ? "reply" : "request";
        if (cancelled) throw transport_error(httplib::Error::Canceled, what, got_bytes, 0);
        if (!ok) {
            const double quiet = std::chrono::duration<double>(Clock::now() - last_byte).count();
            throw transport_error(error, what, got_bytes, quiet);
        }
        if (res.status != 200) throw http_error(res.status, error_body, retry_after(res), method, full);
    }
};

HttpClient::HttpClient(Endpoint endpoint) : state_(std::make_unique<State>()) {
    state_->url = parse_url(endpoint.url);
    state_->endpoint = std::move(endpoint);
    const Url& u = state_->url;
    base_url_ = u.scheme + "://" + host_port(u) + u.path;
}

HttpClient::~HttpClient() = default;

std::string HttpClient::get(const std::string& path) {
    std::string body;
    state_->send("GET", path, "", [&](std::string_view data) {
        body += data;
        return true;
    });
    return body;
}

void HttpClient::post_stream(const std::string& path, const std::string& json_body,
                             const std::function<bool(std::string_view)>& on_data) {
    state_->send("POST", path, json_body, on_data);
}

void HttpClient::rearm() { state_->cancelled = false; }

void HttpClient::cancel() {
    state_->cancelled = true;
    std::lock_guard lock(state_->mutex);
    if (state_->client) state_->client->stop();
}

}  // namespace natter::openai
