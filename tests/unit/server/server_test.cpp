// The server's layer without HTTP: the request parser (types, prompts, context) and the slot
// engine (prompt caching, limits, stop strings, cancelling, the bounded queue), on the tiny
// stories260K model so that it runs in a moment.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "core/error.h"
#include "inference/model.h"
#include "prompts/template.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/slot_engine.h"

namespace {

using natter::server::ApiError;
using natter::server::json;

std::shared_ptr<const natter::Model> stories() {
    static std::shared_ptr<const natter::Model> m(natter::Model::load(std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf"));
    return m;
}

natter::server::ApiContext context() {
    natter::server::ApiContext ctx;
    ctx.model = stories().get();
    ctx.model_name = "stories260K";
    ctx.slot_n_ctx = 64;
    return ctx;
}

std::string refusal(const std::string& body) {
    try {
        natter::server::parse_completion(natter::server::parse_body(body), context());
    } catch (const ApiError& e) {
        return std::to_string(e.status) + " " + e.what();
    }
    return "accepted";
}

TEST(ServerApi, RefusesMalformedAndMistypedRequestsInOneSentence) {
    EXPECT_EQ(refusal("{\"prompt\": \"Once\"}"), "accepted");
    EXPECT_EQ(refusal("{\"prompt\": [1, 2, 3], \"n_predict\": 4, \"stop\": \"x\"}"), "accepted");
    EXPECT_EQ(refusal("{\"prompt\": [\"Once\"]}"), "accepted");
    EXPECT_EQ(refusal("{oops").substr(0, 48), "400 The request body is not valid JSON: parse er");
    EXPECT_EQ(refusal("\"prompt\""), "400 The request body must be a JSON object, not a string.");
    EXPECT_EQ(refusal("{\"prompt\": \"a\", \"top_k\": \"many\"}"), "400 'top_k' must be an integer, not a string.");
    EXPECT_EQ(refusal("{\"prompt\": \"a\", \"top_p\": true}"), "400 'top_p' must be a number, not a boolean.");
    EXPECT_EQ(refusal("{\"prompt\": \"a\", \"n_predict\": 1e30}"), "400 'n_predict' is out of range.");
    EXPECT_EQ(refusal("{\"prompt\": \"a\", \"n_predict\": -2}"), "400 'n_predict' must be -1 (no limit) or more.");
    EXPECT_EQ(refusal("{\"prompt\": \"a\", \"stop\": [1]}"), "400 'stop' must be a string or an array of strings.");
    EXPECT_EQ(refusal("{\"prompt\": {}}"), "400 'prompt' must be a string or an array of token ids.");
    EXPECT_EQ(refusal("{\"prompt\": [512]}"), "400 'prompt' holds 512, which is not a token id of this model (0 to 511).");
    EXPECT_EQ(refusal("{}"), "400 The request has no 'prompt'.");
    EXPECT_EQ(refusal("{\"prompt\": []}"), "400 The prompt is empty.");
}

std::string chat_refusal(const json& body) {
    natter::server::ApiContext ctx = context();
    ctx.slot_n_ctx = 512;  // stories260K's byte-level tokens make a chat long
    static const natter::TemplateRegistry templates;
    ctx.chat_template = &templates.get("chatml");
    try {
        natter::server::parse_chat(body, ctx);
    } catch (const ApiError& e) {
        return std::to_string(e.status) + " " + e.what();
    }
    return "accepted";
}

// Unknown fields are refused by name, as OpenAI's API refuses an unrecognized argument; the
// fields of llama-server's samplers natter has not are accepted only switched off, so no
// request is answered as though it had been honoured.
TEST(ServerApi, UnknownFieldsAndUnsupportedSamplersAreRefusedByName) {
    EXPECT_EQ(refusal(R"({"prompt": "a", "temprature": 0.5})"),
              "400 The request has a field natter serve does not know: 'temprature'.");
    EXPECT_EQ(refusal(R"({"prompt": "a", "mirostat": 2})"),
              "400 'mirostat' is not supported by natter serve: leave it out or set it to 0.");
    EXPECT_EQ(refusal(R"({"prompt": "a", "typical_p": 0.9})"),
              "400 'typical_p' is not supported by natter serve: leave it out or set it to 1.");
    EXPECT_EQ(refusal(R"({"prompt": "a", "logit_bias": [[15, -1]]})"),
              "400 'logit_bias' is not supported by natter serve: leave it out or set it to an empty list.");
    EXPECT_EQ(refusal(R"({"prompt": "a", "n": 2})"), "400 'n' is not supported by natter serve: leave it out or set it to 1.");
    // What llama.cpp's web page and OpenAI's clients send with everything off is accepted.
    EXPECT_EQ(refusal(R"({"prompt": "a", "mirostat": 0, "typical_p": 1, "tfs_z": 1.0, "dynatemp_range": 0,
                          "xtc_probability": 0, "dry_multiplier": 0, "top_n_sigma": -1, "logit_bias": {},
                          "grammar": "", "samplers": "edkypmxt", "timings_per_token": true, "id_slot": -1,
                          "model": "anything", "user": "u1", "n": 1, "echo": false, "logprobs": null,
                          "max_completion_tokens": 4})"),
              "accepted");
    const json msg = {{"role", "user"}, {"content", "hi"}};
    EXPECT_EQ(chat_refusal({{"messages", {msg}}, {"model", "x"}, {"tools", json::array()}}), "accepted");
    EXPECT_EQ(chat_refusal({{"messages", {msg}}, {"tools", {{{"type", "function"}}}}}),
              "400 'tools' is not supported by natter serve: leave it out or set it to an empty list.");
    // A reply an OpenAI client hands back as it got it (model_dump()) is a valid message.
    const json replayed = {{"role", "assistant"}, {"content", "hello"}, {"refusal", nullptr}, {"tool_calls", nullptr},
                           {"function_call", nullptr}, {"audio", nullptr}, {"annotations", json::array()}};
    EXPECT_EQ(chat_refusal({{"messages", {msg, replayed, msg}}}), "accepted");
    EXPECT_EQ(chat_refusal({{"messages", {{{"role", "user"}, {"content", "hi"}, {"contnet", "x"}}}}}),
              "400 A message has a field natter serve does not know: 'contnet'.");
    // /completion does not take messages, nor the chat endpoint a prompt.
    EXPECT_EQ(refusal(R"({"prompt": "a", "messages": []})"), "400 The request has a field natter serve does not know: 'messages'.");
    EXPECT_EQ(chat_refusal({{"messages", {msg}}, {"prompt", "a"}}),
              "400 The request has a field natter serve does not know: 'prompt'.");
}

// max_completion_tokens is OpenAI's newer name for max_tokens; n_predict wins over both.
TEST(ServerApi, TheTokenLimitHasThreeSpellings) {
    const auto n_predict = [](const char* body) {
        return natter::server::parse_completion(natter::server::parse_body(body), context()).params.n_predict;
    };
    EXPECT_EQ(n_predict(R"({"prompt": "a", "max_completion_tokens": 7})"), 7);
    EXPECT_EQ(n_predict(R"({"prompt": "a", "max_completion_tokens": 7, "max_tokens": 5})"), 5);
    EXPECT_EQ(n_predict(R"({"prompt": "a", "max_tokens": 5, "n_predict": 3})"), 3);
}

TEST(ServerApi, APromptOverTheSlotsContextIsRefused) {
    json body = {{"prompt", json::array()}};
    for (int i = 0; i < 64; ++i) body["prompt"].push_back(5);
    EXPECT_EQ(refusal(body.dump()),
              "400 The prompt is 64 tokens long, which does not fit in a slot's context of 64 tokens (raise -c or lower -np).");
}

// A property of the parser: whatever bytes arrive, it answers with a request or an ApiError,
// never another exception or a crash.
TEST(ServerApi, RandomlyDamagedBodiesGiveARequestOrAnApiError) {
    const std::string good = R"({"prompt": "Once upon", "n_predict": 3, "temperature": 0.5, "stop": ["x"], "seed": 4})";
    std::mt19937 rng(14);
    const std::string alphabet = "{}[]\",:0123456789.-eE \\\xff\x80nultr";
    int accepted = 0;
    for (int i = 0; i < 2000; ++i) {
        std::string body = good;
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) body[rng() % body.size()] = alphabet[rng() % alphabet.size()];
        try {
            natter::server::parse_completion(natter::server::parse_body(body), context());
            ++accepted;
        } catch (const ApiError& e) {
            EXPECT_GE(e.status, 400);
            EXPECT_LT(e.status, 500);
        }
    }
    EXPECT_GT(accepted, 0);
}

natter::server::GenerationParams greedy(std::vector<int32_t> prompt, int n) {
    natter::server::GenerationParams p;
    p.prompt = std::move(prompt);
    p.n_predict = n;
    p.sampling.temperature = 0;
    p.sampling.repeat_penalty = 1;
    return p;
}

natter::server::GenerationResult run(natter::server::SlotEngine& engine, natter::server::GenerationParams p) {
    auto job = engine.submit(std::move(p));
    for (;;) {
        auto u = job->wait(std::chrono::milliseconds(1000));
        if (u.result) return *u.result;
    }
}

TEST(SlotEngine, LimitsAndThePromptCacheOfASlot) {
    natter::server::SlotEngine engine(stories(), {.n_ctx = 128, .n_slots = 1, .n_batch = 16, .n_threads = 1, .queue_limit = 4});
    const std::vector<int32_t> prompt = stories()->tokenizer().tokenize("Once upon a time, there was a little", true, false);
    const auto first = run(engine, greedy(prompt, 8));
    EXPECT_EQ(first.stop, natter::server::StopType::Limit);
    EXPECT_EQ(first.n_predicted, 8);
    EXPECT_EQ(first.n_cached, 0);
    // The same prompt again: all of it but the last token from the cache, the same reply.
    const auto again = run(engine, greedy(prompt, 8));
    EXPECT_EQ(again.n_cached, static_cast<int>(prompt.size()) - 1);
    EXPECT_EQ(again.tokens, first.tokens);
    auto no_cache = greedy(prompt, 8);
    no_cache.cache_prompt = false;
    EXPECT_EQ(run(engine, no_cache).n_cached, 0);
    // The context ends a reply that asks for more than fits.
    const auto full = run(engine, greedy(prompt, -1));
    EXPECT_TRUE(full.truncated);
    EXPECT_EQ(full.n_prompt + full.n_predicted, 128);
}

TEST(SlotEngine, AStopStringEndsTheTextBeforeIt) {
    natter::server::SlotEngine engine(stories(), {.n_ctx = 128, .n_slots = 1, .n_batch = 16, .n_threads = 1, .queue_limit = 4});
    const auto prompt = stories()->tokenizer().tokenize("Once upon a time", true, false);
    const auto free = run(engine, greedy(prompt, 40));
    ASSERT_GT(free.content.size(), 12u);
    const std::string word = free.content.substr(6, 4);
    auto p = greedy(prompt, 40);
    p.stop = {word};
    const auto stopped = run(engine, p);
    EXPECT_EQ(stopped.stop, natter::server::StopType::Word);
    EXPECT_EQ(stopped.stopping_word, word);
    EXPECT_EQ(stopped.content, free.content.substr(0, free.content.find(word)));
}

TEST(SlotEngine, CancelFreesTheSlotAndAFullQueueRefuses) {
    natter::server::SlotEngine engine(stories(), {.n_ctx = 4096, .n_slots = 1, .n_batch = 16, .n_threads = 1, .queue_limit = 1});
    const auto prompt = stories()->tokenizer().tokenize("Once", true, false);
    auto long_one = greedy(prompt, -1);
    long_one.ignore_eos = true;
    auto running = engine.submit(long_one);
    while (!engine.slots()[0].busy) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto waiting = engine.submit(greedy(prompt, 2));
    EXPECT_THROW(engine.submit(greedy(prompt, 2)), natter::server::QueueFull);
    running->cancel();
    std::optional<natter::server::GenerationResult> r;
    while (!r) r = running->wait(std::chrono::milliseconds(100)).result;
    EXPECT_EQ(r->stop, natter::server::StopType::Cancelled);
    EXPECT_LT(r->n_predicted, 4000);
    std::optional<natter::server::GenerationResult> w;
    while (!w) w = waiting->wait(std::chrono::milliseconds(100)).result;
    EXPECT_EQ(w->stop, natter::server::StopType::Limit);
    EXPECT_EQ(engine.stats().requests, 2u);
}


// One HTTP/1.1 exchange over a plain socket (the server's tests use no HTTP library of their
// own): the status line and body of the answer.
std::pair<std::string, std::string> http_exchange(int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {"connect failed", ""};
    }
    (void)!::write(fd, request.data(), request.size());
    std::string answer;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
    ::close(fd);
    const size_t eol = answer.find("\r\n");
    const size_t body = answer.find("\r\n\r\n");
    return {answer.substr(0, eol), body == std::string::npos ? "" : answer.substr(body + 4)};
}

// The socket is bound before the model loads: /health says 503 "Loading model" until it has,
// as llama-server's does, and so does every other endpoint; then 200.
TEST(HttpServer, HealthIs503WhileTheModelLoadsThen200) {
    natter::server::ServerOptions o;
    o.port = 0;
    o.model_path = std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";
    o.model_name = "stories260K";
    o.engine.n_slots = 1;
    o.engine.n_ctx = 64;
    o.log_requests = false;
    natter::server::HttpServer server(o);
    server.bind();
    std::thread serving([&] { server.serve(); });
    const std::string get_health = "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    const std::string body = R"({"prompt": "Once", "n_predict": 2})";
    const std::string post = "POST /completion HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    auto [status, text] = http_exchange(server.port(), get_health);
    EXPECT_EQ(status, "HTTP/1.1 503 Service Unavailable");
    EXPECT_EQ(json::parse(text)["error"]["message"], "Loading model");
    std::tie(status, text) = http_exchange(server.port(), post);
    EXPECT_EQ(status, "HTTP/1.1 503 Service Unavailable");
    server.load_model();
    std::tie(status, text) = http_exchange(server.port(), get_health);
    EXPECT_EQ(status, "HTTP/1.1 200 OK");
    EXPECT_EQ(json::parse(text), json({{"status", "ok"}}));
    std::tie(status, text) = http_exchange(server.port(), post);
    EXPECT_EQ(status, "HTTP/1.1 200 OK");
    EXPECT_EQ(json::parse(text)["tokens_predicted"], 2);
    server.stop();
    serving.join();
}

}  // namespace
