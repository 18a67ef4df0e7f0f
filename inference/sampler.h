#pragma once
// Picks the next token from a row of logits: the llama.cpp-style chain
//   penalties -> top-k -> top-p -> min-p -> temperature -> seeded draw
// (or argmax when temperature <= 0). Each step is a public static function so
// tests can check it on hand-made logits.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace natter {

struct SamplingParams {
    float temperature = 0.8f;     // <= 0 means greedy (argmax)
    int top_k = 40;               // <= 0: off
    float top_p = 0.95f;          // >= 1: off
    float min_p = 0.05f;          // <= 0: off
    float repeat_penalty = 1.1f;  // 1: off
    int repeat_last_n = 64;       // window over the most recent tokens; 0 off, -1 = whole history
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    uint64_t seed = 0xFFFFFFFF;   // 0xFFFFFFFF: random seed chosen at construction
};

inline constexpr uint64_t kRandomSeed = 0xFFFFFFFF;

// One token still in the running. `p` is only meaningful after softmax().
struct TokenCandidate {
    int32_t id;
    float logit;
    float p;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& params);

    // Takes effect from the next sample(); reseeds only if the seed changed.
    void set_params(const SamplingParams& params);
    const SamplingParams& params() const { return params_; }

    // Picks the next token from logits[0..n_vocab). `recent` is the token history
    // (prompt + generated) used by the penalties. Throws natter::Error on empty logits.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> recent);

    uint64_t seed() const { return seed_; }  // the seed actually in use

    // --- the individual steps ---

    // Repeat / frequency / presence penalties over the last `repeat_last_n` tokens of
    // `recent`, applied in place to the full-vocabulary logits (indexed by token id).
    // Ids outside the vocabulary are ignored.
    static void apply_penalties(std::span<float> logits, std::span<const int32_t> recent,
                                const SamplingParams& params);

    // All tokens as candidates, in id order. NaN becomes -inf, so that sorting stays
    // well defined on broken logits.
    static std::vector<TokenCandidate> make_candidates(std::span<const float> logits);

    // Keeps the k highest logits, sorted best first (ties: lower id first). k <= 0: off.
    static void top_k(std::vector<TokenCandidate>& candidates, int k);

    // Sets p = softmax(logit) for every candidate; order unchanged.
    static void softmax(std::vector<TokenCandidate>& candidates);

    // Keeps the smallest best-first prefix whose probability mass is >= top_p (at
    // least one token). Leaves candidates sorted with p set. top_p >= 1: off.
    static void top_p(std::vector<TokenCandidate>& candidates, float top_p);

    // Drops tokens whose probability is below min_p times the best one; order kept.
    static void min_p(std::vector<TokenCandidate>& candidates, float min_p);

    // Divides logits by the temperature (> 0).
    static void temperature(std::vector<TokenCandidate>& candidates, float temperature);

    // Highest logit; ties go to the lowest id. Candidates must not be empty.
    static int32_t greedy(std::span<const TokenCandidate> candidates);

    // Draws one candidate with probability softmax(logit), using this sampler's RNG.
    int32_t draw(std::vector<TokenCandidate>& candidates);

private:
    void reseed(uint64_t seed);
    static void fill_candidates(std::span<const float> logits, std::vector<TokenCandidate>& out);
    static int32_t argmax(std::span<const float> logits);  // greedy() straight on logits

    SamplingParams params_;
    uint64_t seed_ = 0;
    std::mt19937 rng_;
    std::vector<float> logits_;  // scratch buffers, reused between calls
    std::vector<TokenCandidate> candidates_;
};

}  // namespace natter
