#pragma once
// Shared helpers for the session tests: models loaded once, and a driver that runs one
// reply to its end while recording every event.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/paths.h"
#include "session/session.h"
#include "inference/forward.h"
#include "inference/model.h"

namespace natter::test {

inline std::string stories_path() { return std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf"; }
inline std::string smollm_path() { return paths::default_model().string(); }

// Loaded once per test program; nullptr if the file is missing.
inline std::shared_ptr<const Model> load_once(const std::string& path) {
    static std::map<std::string, std::shared_ptr<const Model>> cache;
    auto it = cache.find(path);
    if (it != cache.end()) return it->second;
    std::shared_ptr<const Model> m;
    if (std::filesystem::exists(path)) m = Model::load(path);
    cache[path] = m;
    return m;
}

// Greedy and deterministic: the reply depends only on the prompt tokens.
inline SessionOptions greedy_options(int max_tokens, int n_ctx = 512) {
    SessionOptions o;
    o.n_ctx = n_ctx;
    o.n_threads = 1;  // the machine is shared: a second thread would only wait for the other tests
    o.settings.sampling.temperature = 0;
    o.settings.sampling.repeat_penalty = 1.0f;
    o.settings.max_tokens = max_tokens;
    o.load_user_templates = false;
    return o;
}

// Independent reference: greedy decoding from scratch on `prompt`; the tokens generated,
// an end-of-generation token included.
inline std::vector<int32_t> greedy_reference(const Model& model, const std::vector<int32_t>& prompt, int n) {
    Forward fwd(model, ForwardOptions{512, 512, 1});
    std::vector<int32_t> tokens = prompt;
    std::span<const float> logits = fwd.eval(tokens, 0);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        const int32_t id = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        out.push_back(id);
        if (model.tokenizer().is_eog(id) || i + 1 == n) break;
        tokens.push_back(id);
        logits = fwd.eval(std::span<const int32_t>(&tokens.back(), 1), static_cast<int>(tokens.size()) - 1);
    }
    return out;
}

// The text those tokens stand for in a reply (end tokens write nothing).
inline std::string reply_text(const Model& model, const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        if (!model.tokenizer().is_eog(id)) s += model.tokenizer().token_to_piece(id, true);
    }
    return s;
}

struct Turn {
    std::string streamed;  // concatenated Text events
    std::vector<SessionEvent> events;
    SessionEvent last;     // Finished or Interrupted
};

// Drains events until the reply ends (fails the test after `seconds`).
inline Turn finish_turn(Session& s, int seconds = 300) {
    Turn t;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        auto e = s.wait_event(std::chrono::milliseconds(100));
        if (!e) continue;
        t.events.push_back(*e);
        if (e->kind == SessionEvent::Kind::Text) t.streamed += e->text;
        if (e->kind == SessionEvent::Kind::Finished || e->kind == SessionEvent::Kind::Interrupted) {
            t.last = *e;
            return t;
        }
    }
    ADD_FAILURE() << "the reply did not end within " << seconds << " s";
    s.cancel();
    s.wait_idle();
    return t;
}

inline Turn say(Session& s, const std::string& text) {
    s.submit(text);
    return finish_turn(s);
}

// A temporary folder removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/natter-session-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace natter::test
