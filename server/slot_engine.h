#pragma once
// The server's engine: one model, -np slots each with its own KV cache (a sequence of
// inference/forward.h's Forward), and one scheduler thread that runs them. Each step
// decodes one token for every slot that is generating, all of them in one forward pass, with
// the next -b tokens of a waiting prompt in the same pass (continuous batching: a new request
// joins the running batch at once); while nothing generates, prompts go alone in batches of
// -b. Either way a prompt is cut into the same batches, so its logits do not depend on what
// else runs (eval() in other batches rounds differently). A request that finds every slot busy waits in a bounded queue; a slot keeps the tokens
// it last held, so a request that shares a prefix with them evaluates only the rest (prompt
// caching), and a request goes to the idle slot whose tokens share the longest prefix with
// its prompt.
//
// Threads: submit(), cancel and the Job's wait/take are called from the HTTP threads; the
// scheduler thread alone touches the model's Forward and the slots.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "inference/forward.h"
#include "inference/model.h"
#include "inference/sampler.h"

namespace natter::server {

using Clock = std::chrono::steady_clock;

// What one request asks of the engine (the HTTP layer has already tokenized the prompt).
struct GenerationParams {
    std::vector<int32_t> prompt;  // never empty
    int n_predict = -1;           // -1: until a stop or the slot's context is full
    SamplingParams sampling;
    std::vector<std::string> stop;  // stop strings: the text ends before them
    bool cache_prompt = true;       // reuse the slot's cached prefix
    bool ignore_eos = false;
    int n_probs = 0;                // >0: the top n_probs tokens and probabilities of each step
    std::optional<Clock::time_point> deadline;  // --timeout: past it the request ends in an error
};

enum class StopType { None, Eos, Limit, Word, Cancelled, Timeout, Error };

// A token's top candidates (n_probs > 0).
struct TokenProb {
    int32_t id = 0;
    float prob = 0;
};

// The sampled token, its probability and the n_probs most probable ones, by softmax over the
// model's logits (before the sampler's own steps, as llama-server's default n_probs reports).
struct TokenProbs {
    int32_t id = -1;
    float prob = 0;
    std::vector<TokenProb> top;
};

// One generated token with the text it makes visible (possibly empty while a stop string
// or a UTF-8 character is incomplete).
struct Piece {
    int32_t token = -1;
    std::string text;
    std::optional<TokenProbs> probs;
};

struct GenerationResult {
    std::string content;
    std::vector<int32_t> tokens;  // generated ids (the stop token included)
    std::vector<TokenProbs> probs;  // one per token, when n_probs > 0
    StopType stop = StopType::None;
    std::string stopping_word;
    std::string error;       // StopType::Error / Timeout
    int slot = -1;
    int n_prompt = 0;        // prompt tokens
    int n_cached = 0;        // of those, taken from the slot's cache
    int n_predicted = 0;     // tokens generated
    bool truncated = false;  // the slot's context filled before a stop
    double prompt_ms = 0;
    double predicted_ms = 0;
};

// One request in the engine. The HTTP thread waits for pieces and for the end; cancel() (a
// client that went away, a shutdown) ends it at the next step.
class Job {
public:
    explicit Job(GenerationParams params) : params(std::move(params)) {}
    const GenerationParams params;

    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

    // Waits up to `timeout` for news; returns the pieces since the last call (moved out), and
    // the result once the job is over (then no more pieces follow).
    struct Update {
        std::vector<Piece> pieces;
        std::optional<GenerationResult> result;
    };
    Update wait(std::chrono::milliseconds timeout);

    // The scheduler's side.
    void push(Piece piece);
    void finish(GenerationResult result);

private:
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<Piece> pieces_;
    std::optional<GenerationResult> result_;
};

struct EngineOptions {
    int n_ctx = 4096;     // all the slots together (0: the model's training context); each slot has n_ctx / n_slots
    int n_slots = 1;
    int n_batch = 512;    // prompt tokens per forward pass
    int n_threads = 0;    // 0: one per physical core
    int queue_limit = 16; // requests that may wait for a slot; more get QueueFull
    bool flash_attn = false;  // llama.cpp's flash attention, or its attention without (natter serve -fa: on)
};

// What /slots and /metrics show.
struct SlotInfo {
    int id = 0;
    bool busy = false;
    int n_ctx = 0;
    int n_cached = 0;       // tokens the slot's cache holds
    int n_decoded = 0;      // tokens of the current request so far
    GenerationParams params;  // of the current (or last) request
};

struct EngineStats {
    uint64_t requests = 0;            // submitted
    uint64_t prompt_tokens = 0;       // evaluated (cached ones not counted)
    uint64_t prompt_tokens_cached = 0;  // taken from a slot's cache instead
    double prompt_seconds = 0;
    uint64_t predicted_tokens = 0;
    double predicted_seconds = 0;     // time of the steps that decoded them (per slot)
    double predicted_wall_seconds = 0;  // time of the decode steps (once per step)
    int n_tokens_max = 0;             // the most tokens a slot has held
    uint64_t decode_steps = 0;
    uint64_t busy_slots_in_steps = 0; // summed over the decode steps
    int processing = 0;               // requests in slots
    int deferred = 0;                 // requests waiting for a slot
    int kv_tokens = 0;                // tokens in every slot's cache
};

class QueueFull : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class SlotEngine {
public:
    SlotEngine(std::shared_ptr<const Model> model, const EngineOptions& options);
    ~SlotEngine();  // cancels everything and joins the scheduler

    // Queues a request; throws QueueFull when queue_limit requests already wait.
    std::shared_ptr<Job> submit(GenerationParams params);
    // Cancels every request, queued or running (a shutdown).
    void cancel_all();

    const Model& model() const { return *model_; }
    int n_slots() const { return options_.n_slots; }
    int slot_n_ctx() const { return slot_n_ctx_; }
    int n_threads() const;
    std::vector<SlotInfo> slots() const;
    EngineStats stats() const;

private:
    struct Slot;
    void run();
    void assign_waiting_jobs();
    void start(Slot& slot, std::shared_ptr<Job> job);
    Slot* prompt_slot();  // the first slot whose prompt is not all in yet
    void prompt_evaluated(Slot& slot, size_t n, double seconds, std::span<const float> logits);
    void prompt_step();
    void decode_step();
    // Samples the slot's next token from logits and sends its text; false when it ended the request.
    bool accept_token(Slot& slot, std::span<const float> logits);
    void end(Slot& slot, StopType stop, const std::string& error = {});

    std::shared_ptr<const Model> model_;
    EngineOptions options_;
    int slot_n_ctx_;
    std::unique_ptr<Forward> forward_;
    std::vector<std::unique_ptr<Slot>> slots_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> waiting_;
    bool quit_ = false;
    EngineStats stats_;
    std::thread thread_;
};

}  // namespace natter::server
