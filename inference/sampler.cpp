#include "inference/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace natter {

namespace {

// Best first; equal logits keep id order so every step is deterministic.
bool better(const TokenCandidate& a, const TokenCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// A fresh seed that is never the "choose one for me" sentinel, so that
// seed() can be fed back into SamplingParams to replay a run.
uint64_t random_seed() {
    std::random_device device;
    uint64_t seed;
    do {
        seed = (uint64_t(device()) << 32) | device();
    } while (seed == kRandomSeed);
    return seed;
}

// The most recent `last_n` tokens (-1: all), the window the penalties look at.
std::span<const int32_t> penalty_window(std::span<const int32_t> recent, int last_n) {
    if (last_n < 0 || size_t(last_n) >= recent.size()) return recent;
    return recent.subspan(recent.size() - size_t(last_n));
}

}  // namespace

Sampler::Sampler(const SamplingParams& params) : params_(params) {
    reseed(params.seed);
}

void Sampler::set_params(const SamplingParams& params) {
    const bool seed_changed = params.seed != params_.seed;
    params_ = params;
    if (seed_changed) reseed(params.seed);
}

void Sampler::reseed(uint64_t seed) {
    seed_ = seed == kRandomSeed ? random_seed() : seed;
    // mt19937 takes 32 bits; a seed_seq keeps both halves of a 64-bit seed significant.
    std::seed_seq sequence{uint32_t(seed_), uint32_t(seed_ >> 32)};
    rng_.seed(sequence);
}

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> recent,
                              const SamplingParams& params) {
    const bool any = params.repeat_penalty != 1.0f || params.frequency_penalty != 0.0f ||
                     params.presence_penalty != 0.0f;
    if (!any || params.repeat_last_n == 0) return;

    // Count occurrences by sorting a copy of the window: no per-vocabulary table,
    // and the window is small (64 tokens by default).
    const auto window = penalty_window(recent, params.repeat_last_n);
    std::vector<int32_t> tokens(window.begin(), window.end());
    std::sort(tokens.begin(), tokens.end());
    for (size_t i = 0; i < tokens.size();) {
        const int32_t id = tokens[i];
        size_t j = i;
        while (j < tokens.size() && tokens[j] == id) ++j;
        const float count = float(j - i);
        i = j;
        if (id < 0 || size_t(id) >= logits.size()) continue;

        float& logit = logits[size_t(id)];
        // Dividing a negative logit would make the token *more* likely, so those
        // are multiplied instead (the fix llama.cpp applies to the CTRL paper).
        if (logit <= 0.0f) {
            logit *= params.repeat_penalty;
        } else {
            logit /= params.repeat_penalty;
        }
        logit -= count * params.frequency_penalty + params.presence_penalty;
    }
}

std::vector<TokenCandidate> Sampler::make_candidates(std::span<const float> logits) {
    std::vector<TokenCandidate> candidates;
    fill_candidates(logits, candidates);
    return candidates;
}

void Sampler::fill_candidates(std::span<const float> logits, std::vector<TokenCandidate>& out) {
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        const float logit = logits[i];
        out[i] = {int32_t(i), std::isnan(logit) ? -INFINITY : logit, 0.0f};
    }
}

void Sampler::top_k(std::vector<TokenCandidate>& candidates, int k) {
    if (k <= 0) return;
    const size_t keep = std::min(size_t(k), candidates.size());
    // Partial sort: O(n log k), the whole point for 150k-token vocabularies.
    std::partial_sort(candidates.begin(), candidates.begin() + ptrdiff_t(keep),
                      candidates.end(), better);
    candidates.resize(keep);
}

void Sampler::softmax(std::vector<TokenCandidate>& candidates) {
    if (candidates.empty()) return;
    float max_logit = -INFINITY;
    for (const auto& c : candidates) max_logit = std::max(max_logit, c.logit);
    if (std::isinf(max_logit)) {
        // exp(inf - inf) is NaN: share the mass among the best tokens instead
        // (all of them when every logit is -inf).
        size_t n_best = 0;
        for (const auto& c : candidates) n_best += c.logit == max_logit;
        for (auto& c : candidates) c.p = c.logit == max_logit ? 1.0f / float(n_best) : 0.0f;
        return;
    }
    double sum = 0.0;
    for (auto& c : candidates) {
        c.p = std::exp(c.logit - max_logit);
        sum += c.p;
    }
    for (auto& c : candidates) c.p = float(c.p / sum);
}

void Sampler::top_p(std::vector<TokenCandidate>& candidates, float top_p) {
    if (top_p >= 1.0f || candidates.empty()) return;
    softmax(candidates);
    const bool sorted = std::is_sorted(candidates.begin(), candidates.end(), better);

    // Sort only as far as needed: the nucleus is usually a few dozen tokens, so order a
    // growing prefix (select it with nth_element, then sort just that part; everything
    // after it is no better than what is already in it).
    double cumulative = 0.0;
    size_t done = 0;
    size_t chunk = sorted ? candidates.size() : std::min<size_t>(128, candidates.size());
    while (done < candidates.size()) {
        const size_t end = std::min(candidates.size(), done + chunk);
        if (!sorted) {
            const auto first = candidates.begin() + ptrdiff_t(done);
            const auto last = candidates.begin() + ptrdiff_t(end);
            std::nth_element(first, last - 1, candidates.end(), better);
            std::sort(first, last, better);
        }
        for (size_t i = done; i < end; ++i) {
            cumulative += candidates[i].p;
            if (cumulative >= top_p) {
                candidates.resize(i + 1);
                return;
            }
        }
        done = end;
        chunk *= 2;
    }
}

void Sampler::min_p(std::vector<TokenCandidate>& candidates, float min_p) {
    if (min_p <= 0.0f || candidates.empty()) return;
    float max_logit = -INFINITY;
    for (const auto& c : candidates) max_logit = std::max(max_logit, c.logit);
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p): no softmax needed.
    const float threshold = max_logit + std::log(min_p);
    std::erase_if(candidates, [&](const TokenCandidate& c) {
        return c.logit < threshold && c.logit != max_logit;
    });
}

void Sampler::temperature(std::vector<TokenCandidate>& candidates, float temperature) {
    for (auto& c : candidates) c.logit /= temperature;
}

int32_t Sampler::argmax(std::span<const float> logits) {
    // Strictly greater keeps the first (lowest id) of equal logits; NaN never compares greater.
    size_t best = 0;
    while (best + 1 < logits.size() && std::isnan(logits[best])) ++best;
    for (size_t i = best + 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) best = i;
    }
    return int32_t(best);
}

int32_t Sampler::greedy(std::span<const TokenCandidate> candidates) {
    const auto best = std::min_element(candidates.begin(), candidates.end(), better);
    return best->id;
}

int32_t Sampler::draw(std::vector<TokenCandidate>& candidates) {
    softmax(candidates);
    // Our own inverse-CDF walk instead of std::discrete_distribution, whose output
    // differs between standard libraries: a seed should replay the same everywhere.
    const double u = double(rng_() >> 8) * (1.0 / 16777216.0);  // 24 bits in [0, 1)
    double sum = 0.0;
    for (const auto& c : candidates) sum += c.p;
    const double target = u * sum;
    double cumulative = 0.0;
    for (const auto& c : candidates) {
        cumulative += c.p;
        if (target < cumulative) return c.id;
    }
    // Rounding left target at the very top: the last token with any mass.
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
        if (it->p > 0.0f) return it->id;
    }
    return candidates.front().id;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> recent) {
    if (logits.empty()) throw Error("Cannot sample a token from an empty vocabulary.");
    logits_.assign(logits.begin(), logits.end());
    apply_penalties(logits_, recent, params_);

    // The truncation steps never remove the best token, so argmax needs none of them.
    if (params_.temperature <= 0.0f) return argmax(logits_);

    auto& candidates = candidates_;
    fill_candidates(logits_, candidates);
    top_k(candidates, params_.top_k);
    top_p(candidates, params_.top_p);
    min_p(candidates, params_.min_p);
    temperature(candidates, params_.temperature);
    return draw(candidates);
}

}  // namespace natter
