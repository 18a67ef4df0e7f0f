// The server's layer without HTTP: the request parser (types, prompts, context) and the slot
// engine (prompt caching, limits, stop strings, cancelling, the bounded queue), on the tiny
// stories260K model so that it runs in a moment.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "core/error.h"
#include "inference/model.h"
#include "server/api.h"
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

}  // namespace
