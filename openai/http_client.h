#pragma once
// The client side of an OpenAI-compatible server: one base URL (http:// or https://, TLS
// through cpp-httplib's OpenSSL support), an API key sent as a bearer token, JSON GETs and
// streamed POSTs. Every failure is a RemoteError whose message is one sentence for people:
// connection refused, an unknown host, a TLS failure, a timeout, an HTTP error status with
// the server's own message, a stream that ended midway. The key is never part of a message.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace natter::openai {

struct Endpoint {
    std::string url;      // e.g. http://gpu-box:8000/v1; without a path, /v1 is meant
    std::string api_key;  // "" sends none
    int timeout_seconds = 120;         // longest wait for any byte of an answer (a stalled stream)
    int connect_timeout_seconds = 10;
};

class RemoteError : public Error {
public:
    enum class Kind { Connect, Tls, Timeout, Cut, Http, Protocol, Cancelled };
    RemoteError(Kind kind, const std::string& message, int status = 0, int retry_after_seconds = -1)
        : Error(message), kind(kind), status(status), retry_after_seconds(retry_after_seconds) {}
    Kind kind;
    int status;               // the HTTP status for Kind::Http
    int retry_after_seconds;  // a 429's or 503's Retry-After, -1 when none
};

class HttpClient {
public:
    // Throws natter::Error for a URL that is not http(s)://host[:port][/path], or that carries
    // a user name or password (the key belongs in a file or the environment, not in a URL that
    // transcripts and `ps` show).
    explicit HttpClient(Endpoint endpoint);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // The base URL as shown to people and saved in transcripts ("http://host:8080/v1").
    const std::string& base_url() const { return base_url_; }

    // GET base + path; the body of a 200 answer, else a RemoteError.
    std::string get(const std::string& path);
    // POST a JSON body to base + path and hand the answer's bytes to on_data as they arrive
    // (return false to stop reading). An answer other than 200 is a RemoteError with the
    // server's message; so is a connection that breaks or stalls past the timeout.
    void post_stream(const std::string& path, const std::string& json_body,
                     const std::function<bool(std::string_view)>& on_data);
    // From any thread: ends the request in flight at once (it throws Kind::Cancelled), and
    // every later one until rearm().
    void cancel();
    void rearm();

    struct State;

private:
    std::unique_ptr<State> state_;
    std::string base_url_;
};

}  // namespace natter::openai
