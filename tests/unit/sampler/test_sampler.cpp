// The sampler chain, step by step on hand-made logits, then end to end:
// greedy ties, seeds, and draw frequencies against the softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "core/error.h"
#include "inference/sampler.h"

namespace natter {
namespace {

std::vector<int32_t> ids_of(const std::vector<TokenCandidate>& candidates) {
    std::vector<int32_t> ids;
    for (const auto& c : candidates) ids.push_back(c.id);
    return ids;
}

// The ids left, in order, after one step has run on candidates made from `logits`.
template <class Step>
std::vector<int32_t> kept_after(const std::vector<float>& logits, Step step) {
    auto candidates = Sampler::make_candidates(logits);
    step(candidates);
    return ids_of(candidates);
}

// Penalties only: everything else neutral.
SamplingParams penalties(float repeat, int last_n, float frequency = 0.0f, float presence = 0.0f) {
    SamplingParams p;
    p.repeat_penalty = repeat;
    p.repeat_last_n = last_n;
    p.frequency_penalty = frequency;
    p.presence_penalty = presence;
    return p;
}

// A plain draw from softmax(logits): no truncation, temperature 1, no penalties.
SamplingParams plain(uint64_t seed) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    return p;
}

std::vector<int32_t> draw_sequence(Sampler& sampler, const std::vector<float>& logits, int n) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) out.push_back(sampler.sample(logits, {}));
    return out;
}

// ---- penalties ----

TEST(SamplerPenalties, RepeatDividesPositiveAndMultipliesNegativeLogits) {
    std::vector<float> logits = {2.0f, -2.0f, 0.0f, 1.0f, 3.0f};
    const std::vector<int32_t> recent = {0, 1, 2};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, -1));
    // 2/2 = 1, -2*2 = -4, 0 stays 0; tokens 3 and 4 never appeared.
    EXPECT_EQ(logits, (std::vector<float>{1.0f, -4.0f, 0.0f, 1.0f, 3.0f}));
}

TEST(SamplerPenalties, RepeatPenaltyDoesNotCompoundWithCount) {
    std::vector<float> logits = {2.0f, 1.0f};
    const std::vector<int32_t> recent = {0, 0, 0};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, -1));
    EXPECT_FLOAT_EQ(logits[0], 1.0f);  // once, not 2 / 2^3
    EXPECT_FLOAT_EQ(logits[1], 1.0f);
}

TEST(SamplerPenalties, OnlyTheLastNTokensCount) {
    std::vector<float> logits = {2.0f, -2.0f, 0.0f, 1.0f, 3.0f};
    const std::vector<int32_t> recent = {0, 1, 3};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, 2));  // window = {1, 3}
    EXPECT_EQ(logits, (std::vector<float>{2.0f, -4.0f, 0.0f, 0.5f, 3.0f}));
}

TEST(SamplerPenalties, WindowOfZeroDisablesAllPenalties) {
    std::vector<float> logits = {2.0f, -2.0f};
    const std::vector<float> before = logits;
    const std::vector<int32_t> recent = {0, 1};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, 0, 1.0f, 1.0f));
    EXPECT_EQ(logits, before);
}

TEST(SamplerPenalties, FrequencyAndPresenceSubtractPerCountAndOnce) {
    std::vector<float> logits = {0.5f, -2.0f, 0.0f, 1.0f, 3.0f};
    const std::vector<int32_t> recent = {4, 4, 4, 1};
    Sampler::apply_penalties(logits, recent, penalties(1.0f, -1, 0.5f, 0.25f));
    EXPECT_FLOAT_EQ(logits[4], 3.0f - 3 * 0.5f - 0.25f);  // 1.25
    EXPECT_FLOAT_EQ(logits[1], -2.0f - 1 * 0.5f - 0.25f);  // -2.75
    EXPECT_FLOAT_EQ(logits[0], 0.5f);
    EXPECT_FLOAT_EQ(logits[2], 0.0f);
    EXPECT_FLOAT_EQ(logits[3], 1.0f);
}

TEST(SamplerPenalties, RepeatThenFrequencyAndPresence) {
    std::vector<float> logits = {0.0f, 0.0f, 0.0f, 0.0f, 3.0f};
    const std::vector<int32_t> recent = {4, 4};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, -1, 0.5f, 0.25f));
    EXPECT_FLOAT_EQ(logits[4], 3.0f / 2 - 2 * 0.5f - 0.25f);  // 0.25
}

TEST(SamplerPenalties, IdsOutsideTheVocabularyAreIgnored) {
    std::vector<float> logits = {2.0f, 2.0f};
    const std::vector<int32_t> recent = {-1, 2, 99, 1};
    Sampler::apply_penalties(logits, recent, penalties(2.0f, -1));
    EXPECT_EQ(logits, (std::vector<float>{2.0f, 1.0f}));
}

// ---- top-k ----

TEST(SamplerTopK, KeepsTheTwoBestOfFiveSortedBestFirst) {
    const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 3.0f, 0.5f};
    auto c = Sampler::make_candidates(logits);
    Sampler::top_k(c, 2);
    EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3, 1}));
    EXPECT_FLOAT_EQ(c[0].logit, 3.0f);
    EXPECT_FLOAT_EQ(c[1].logit, 2.0f);
}

TEST(SamplerTopK, OffOrLargerThanVocabulary) {
    const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 3.0f, 0.5f};
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_k(c, 0); }),
              (std::vector<int32_t>{0, 1, 2, 3, 4}));  // untouched
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_k(c, 10); }),
              (std::vector<int32_t>{3, 1, 4, 0, 2}));
}

TEST(SamplerTopK, TiesGoToTheLowerId) {
    const std::vector<float> logits = {1.0f, 5.0f, 5.0f, 0.0f, 5.0f};
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_k(c, 2); }), (std::vector<int32_t>{1, 2}));
}

// ---- softmax and temperature ----

TEST(SamplerSoftmax, MatchesHandComputedProbabilities) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
    auto c = Sampler::make_candidates(logits);
    Sampler::softmax(c);
    // e^-2, e^-1, 1 over their sum 1.5032147...
    EXPECT_NEAR(c[0].p, 0.0900305732, 1e-6);
    EXPECT_NEAR(c[1].p, 0.2447284711, 1e-6);
    EXPECT_NEAR(c[2].p, 0.6652409558, 1e-6);
}

TEST(SamplerTemperature, ScalesLogitsAndSharpensOrFlattens) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
    auto cold = Sampler::make_candidates(logits);
    Sampler::temperature(cold, 0.5f);
    EXPECT_FLOAT_EQ(cold[2].logit, 6.0f);
    Sampler::softmax(cold);
    // logits 2, 4, 6: e^-4, e^-2, 1 over 1.1536509...
    EXPECT_NEAR(cold[0].p, 0.0158762400, 1e-6);
    EXPECT_NEAR(cold[1].p, 0.1173104278, 1e-6);
    EXPECT_NEAR(cold[2].p, 0.8668133322, 1e-6);

    auto hot = Sampler::make_candidates(logits);
    Sampler::temperature(hot, 2.0f);
    Sampler::softmax(hot);
    // logits 0.5, 1, 1.5: e^-1, e^-0.5, 1 over 1.9744101...
    EXPECT_NEAR(hot[0].p, 0.1863237232, 1e-6);
    EXPECT_NEAR(hot[1].p, 0.3071958857, 1e-6);
    EXPECT_NEAR(hot[2].p, 0.5064803911, 1e-6);
}

TEST(SamplerSoftmax, InfiniteLogitsStayWellDefined) {
    const float inf = std::numeric_limits<float>::infinity();
    auto c = Sampler::make_candidates(std::vector<float>{1.0f, inf, inf, -inf});
    Sampler::softmax(c);
    EXPECT_EQ(c[0].p, 0.0f);
    EXPECT_EQ(c[1].p, 0.5f);
    EXPECT_EQ(c[2].p, 0.5f);
    auto none = Sampler::make_candidates(std::vector<float>{-inf, -inf});
    Sampler::softmax(none);
    EXPECT_EQ(none[0].p, 0.5f);
}

// ---- top-p ----

TEST(SamplerTopP, KeepsSmallestPrefixReachingP) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};  // p = .090, .245, .665
    const struct {
        float p;
        std::vector<int32_t> kept;
    } cases[] = {
        {0.60f, {2}},        // .665 alone is enough
        {0.70f, {2, 1}},     // .665 < .70 <= .910
        {0.90f, {2, 1}},
        {0.91f, {2, 1, 0}},  // .9099695 < .91
        {0.0f, {2}},         // always at least one token
    };
    for (const auto& tc : cases) {
        const auto kept = kept_after(logits, [&](auto& c) { Sampler::top_p(c, tc.p); });
        EXPECT_EQ(kept, tc.kept) << "top_p " << tc.p;
    }
}

TEST(SamplerTopP, BoundaryIsInclusive) {
    // Four equal logits: exactly 0.25 each, so the cumulative sums are exact.
    const std::vector<float> logits = {0.0f, 0.0f, 0.0f, 0.0f};
    // 0.5 >= 0.5 stops after two tokens.
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_p(c, 0.5f); }), (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_p(c, 0.5001f); }),
              (std::vector<int32_t>{0, 1, 2}));
}

TEST(SamplerTopP, OneOrMoreIsOff) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
    EXPECT_EQ(kept_after(logits, [](auto& c) { Sampler::top_p(c, 1.0f); }), (std::vector<int32_t>{0, 1, 2}));
}

TEST(SamplerTopP, LargeUnsortedVocabularyMatchesAFullSort) {
    // Exercises the growing partial sort against the obvious full-sort definition.
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> logits(20000);
    for (auto& l : logits) l = normal(rng);
    for (float p : {0.5f, 0.9f, 0.99f}) {
        std::vector<int32_t> order(logits.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
        // Equal logits do occur among 20000 floats: the lower id goes first.
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        });
        double max = logits[order[0]], sum = 0;
        for (float l : logits) sum += std::exp(double(l) - max);
        std::vector<int32_t> expected;
        double cumulative = 0;
        for (int32_t id : order) {
            expected.push_back(id);
            cumulative += std::exp(double(logits[id]) - max) / sum;
            if (cumulative >= p) break;
        }
        auto c = Sampler::make_candidates(logits);
        Sampler::top_p(c, p);
        EXPECT_EQ(c.size(), expected.size()) << "top_p " << p;
        EXPECT_EQ(ids_of(c), expected) << "top_p " << p;
        EXPECT_GT(expected.size(), 128u) << "the test should need more than one sort chunk";
    }
}

// ---- min-p ----

TEST(SamplerMinP, DropsTokensBelowFractionOfTheBestAndKeepsOrder) {
    // Probabilities relative to the best: 0.5, 1, 0.04, 0.1 (unsorted on purpose).
    const std::vector<float> logits = {std::log(0.5f), 0.0f, std::log(0.04f), std::log(0.1f)};
    const struct {
        float min_p;
        std::vector<int32_t> kept;
    } cases[] = {
        {0.0f, {0, 1, 2, 3}},   // off
        {0.05f, {0, 1, 3}},     // 0.04 < 0.05
        {0.2f, {0, 1}},
        {0.5f, {0, 1}},         // exactly 0.5 * best is kept
        {0.6f, {1}},
        {2.0f, {1}},            // never drops the best token
    };
    for (const auto& tc : cases) {
        const auto kept = kept_after(logits, [&](auto& c) { Sampler::min_p(c, tc.min_p); });
        EXPECT_EQ(kept, tc.kept) << "min_p " << tc.min_p;
    }
}

// ---- greedy ----

TEST(SamplerGreedy, ArgmaxWithTiesToLowestId) {
    const std::vector<float> logits = {1.0f, 5.0f, 5.0f, 0.0f, 5.0f};
    EXPECT_EQ(Sampler::greedy(Sampler::make_candidates(logits)), 1);
    SamplingParams p = plain(1);
    p.temperature = 0.0f;
    Sampler sampler(p);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sampler.sample(logits, {}), 1);
    p.temperature = -1.0f;
    sampler.set_params(p);
    EXPECT_EQ(sampler.sample(logits, {}), 1);
}

TEST(SamplerGreedy, PenaltiesStillApply) {
    const std::vector<float> logits = {1.0f, 5.0f, 4.9f, 0.0f};
    SamplingParams p = plain(1);
    p.temperature = 0.0f;
    p.repeat_penalty = 1.1f;  // 5 / 1.1 = 4.545 < 4.9
    p.repeat_last_n = 64;
    Sampler sampler(p);
    const std::vector<int32_t> recent = {1};
    EXPECT_EQ(sampler.sample(logits, recent), 2);
    EXPECT_EQ(sampler.sample(logits, {}), 1);
}

TEST(SamplerGreedy, NaNLogitsAreNeverChosen) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> logits = {nan, -3.0f, nan};
    SamplingParams p = plain(3);
    Sampler sampler(p);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(sampler.sample(logits, {}), 1);
    p.temperature = 0.0f;
    sampler.set_params(p);
    EXPECT_EQ(sampler.sample(logits, {}), 1);
}

TEST(Sampler, EmptyLogitsIsAnError) {
    Sampler sampler(plain(1));
    EXPECT_THROW(sampler.sample({}, {}), Error);
}

// ---- seeds ----

const std::vector<float> kSpread = {0.3f, 1.2f, -0.5f, 2.0f, 0.0f, 1.9f, -1.0f, 0.7f, 1.5f, 0.1f};

TEST(SamplerSeed, SameSeedSameSequenceDifferentSeedDifferentSequence) {
    Sampler a(plain(1234)), b(plain(1234)), c(plain(1235));
    const auto seq_a = draw_sequence(a, kSpread, 200);
    EXPECT_EQ(seq_a, draw_sequence(b, kSpread, 200));
    EXPECT_NE(seq_a, draw_sequence(c, kSpread, 200));
    // Seeds that differ only in the upper 32 bits are different seeds too.
    Sampler high(plain(1234 + (uint64_t(1) << 40)));
    EXPECT_NE(seq_a, draw_sequence(high, kSpread, 200));
    // Not degenerate: several tokens show up.
    EXPECT_GT(std::set<int32_t>(seq_a.begin(), seq_a.end()).size(), 5u);
}

TEST(SamplerSeed, RandomSeedIsReportedAndReplays) {
    Sampler random(plain(kRandomSeed));
    EXPECT_NE(random.seed(), kRandomSeed);
    Sampler replay(plain(random.seed()));
    EXPECT_EQ(draw_sequence(random, kSpread, 100), draw_sequence(replay, kSpread, 100));
}

TEST(SamplerSeed, SetParamsReseedsOnlyWhenTheSeedChanges) {
    Sampler reference(plain(99));
    const auto expected = draw_sequence(reference, kSpread, 20);

    Sampler changed(plain(99));
    auto first = draw_sequence(changed, kSpread, 10);
    SamplingParams p = plain(99);
    p.repeat_penalty = 1.3f;  // a different setting, no effect without history
    changed.set_params(p);
    EXPECT_EQ(changed.params().repeat_penalty, 1.3f);
    auto second = draw_sequence(changed, kSpread, 10);
    first.insert(first.end(), second.begin(), second.end());
    EXPECT_EQ(first, expected);  // the RNG stream carried on

    changed.set_params(plain(7));
    Sampler fresh(plain(7));
    EXPECT_EQ(changed.seed(), 7u);
    EXPECT_EQ(draw_sequence(changed, kSpread, 20), draw_sequence(fresh, kSpread, 20));
}

// ---- statistics ----

// Draws n tokens and checks each token's frequency against `expected` within
// 5 standard errors, plus a chi-square over all tokens (fixed seed: deterministic).
void expect_frequencies(Sampler& sampler, const std::vector<float>& logits,
                        const std::vector<double>& expected, int n) {
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < n; ++i) counts.at(size_t(sampler.sample(logits, {})))++;
    double chi2 = 0;
    int categories = 0;
    for (size_t t = 0; t < logits.size(); ++t) {
        const double f = double(counts[t]) / n, p = expected[t];
        if (p == 0) {
            EXPECT_EQ(counts[t], 0) << "token " << t << " should have been cut";
            continue;
        }
        const double sigma = std::sqrt(p * (1 - p) / n);
        EXPECT_NEAR(f, p, 5 * sigma) << "token " << t;
        chi2 += (counts[t] - n * p) * (counts[t] - n * p) / (n * p);
        ++categories;
    }
    // 99.9% quantile of chi-square with up to 5 degrees of freedom is 20.5.
    EXPECT_LT(chi2, 20.5) << "over " << categories << " categories";
}

std::vector<double> softmax_of(const std::vector<double>& logits) {
    const double max = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p;
    double sum = 0;
    for (double l : logits) sum += std::exp(l - max);
    for (double l : logits) p.push_back(std::exp(l - max) / sum);
    return p;
}

TEST(SamplerStatistics, FrequenciesMatchTheSoftmax) {
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 0.0f};
    Sampler sampler(plain(42));
    expect_frequencies(sampler, logits, softmax_of({1.0, 2.0, 0.5, 3.0, -1.0, 0.0}), 200000);
}

TEST(SamplerStatistics, TopKAndTemperatureShapeTheDistribution) {
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 0.0f};
    SamplingParams p = plain(43);
    p.top_k = 3;          // keeps tokens 3, 1, 0
    p.temperature = 0.7f;
    Sampler sampler(p);
    auto kept = softmax_of({1.0 / 0.7, 2.0 / 0.7, 3.0 / 0.7});
    expect_frequencies(sampler, logits, {kept[0], kept[1], 0, kept[2], 0, 0}, 200000);
}

TEST(SamplerStatistics, MinPCutsTheTailBeforeDrawing) {
    // Relative to the best: token 2 is 1/e^2 = 0.135 -> cut by min_p 0.2; token 1 is 1/e -> kept.
    const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
    SamplingParams p = plain(44);
    p.min_p = 0.2f;
    Sampler sampler(p);
    auto kept = softmax_of({2.0, 1.0});
    expect_frequencies(sampler, logits, {kept[0], kept[1], 0}, 100000);
}

TEST(SamplerStatistics, DefaultChainOnLargeVocabularyStaysInTheNucleus) {
    // 150k tokens, like a Qwen vocabulary: a few strong candidates over a flat tail.
    std::vector<float> logits(150000, -5.0f);
    logits[77] = 10.0f;
    logits[149999] = 9.5f;
    logits[5] = 9.0f;
    SamplingParams p;  // defaults: top-k 40, top-p 0.95, min-p 0.05, temp 0.8
    p.seed = 5;
    Sampler sampler(p);
    std::map<int32_t, int> seen;
    for (int i = 0; i < 300; ++i) seen[sampler.sample(logits, {})]++;
    for (const auto& [id, count] : seen) {
        EXPECT_TRUE(id == 77 || id == 149999 || id == 5) << "drew tail token " << id;
    }
    EXPECT_EQ(seen.size(), 3u);
}

}  // namespace
}  // namespace natter
