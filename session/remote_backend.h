#pragma once
// A session's model on an OpenAI-compatible server: the reply is a streamed
// /v1/chat/completions request (openai/), the server renders its own template. Internal to
// session/: Session::Impl holds one when SessionOptions::remote names a server.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "openai/http_client.h"
#include "openai/protocol.h"
#include "session/session.h"

namespace natter {

// The model the remote chat talks to: `requested`, else the first the server lists. Throws
// natter::Error when the list is empty or lacks `requested` (naming what it offers).
openai::ModelInfo choose_model(const std::vector<openai::ModelInfo>& offered, const std::string& requested,
                               const std::string& base_url);

// Asks the server for its models (GET /models) and picks with choose_model; a server without
// that list (404) is taken at its word for `requested`. Throws natter::Error in one sentence.
openai::ModelInfo find_remote_model(openai::HttpClient& client, const std::string& requested);

// The session's sampling settings as a request's fields (a random seed is left to the server).
openai::RequestSampling request_sampling(const ChatSettings& settings);

class RemoteBackend {
public:
    // Asks the server for its models (GET /models) and picks one. Throws natter::Error in one
    // sentence when the URL is bad, the server cannot be reached or refuses, or lacks the model.
    explicit RemoteBackend(const RemoteOptions& options);

    const std::string& model() const { return model_.id; }
    const std::string& base_url() const { return client_.base_url(); }
    int n_ctx() const { return model_.n_ctx; }
    int context_used() const;  // the last reply's prompt + completion tokens, as the server counted them

    // Generator thread: one reply, from request to its final event (Session::Impl::end_reply).
    // Failures end the reply with one sentence; the partial text stays.
    void reply(Session::Impl& session);

private:
    openai::HttpClient client_;
    openai::ModelInfo model_;
    std::atomic<int> context_used_{0};
};

}  // namespace natter
