// The KV-cache bookkeeping, with a toy tokenizer: one token per character (its byte value),
// BOS = 1000 at the start of the context.
#include <gtest/gtest.h>

#include "session/context_cache.h"

namespace natter {
namespace {

std::vector<int32_t> toy_tokenize(std::string_view text, bool at_start) {
    std::vector<int32_t> ids;
    if (at_start) ids.push_back(1000);
    for (unsigned char c : text) ids.push_back(c);
    return ids;
}

void apply(ContextCache& cache, const ContextCache::Plan& p) {
    cache.truncate(p.keep);
    cache.append(p.tokens, p.text_added);
}

TEST(ContextCache, EmptyCacheTokenizesEverythingWithBos) {
    ContextCache cache;
    const auto p = cache.plan("ab", toy_tokenize);
    EXPECT_EQ(p.keep, 0);
    EXPECT_EQ(p.tokens, (std::vector<int32_t>{1000, 'a', 'b'}));
    EXPECT_EQ(p.text_added, "ab");
}

TEST(ContextCache, SecondTurnEvaluatesOnlyTheNewText) {
    ContextCache cache;
    apply(cache, cache.plan("Q1>", toy_tokenize));  // prompt
    cache.append(std::vector<int32_t>{'x'}, "x");    // generated tokens, one piece each
    cache.append(std::vector<int32_t>{'y'}, "y");
    const auto p = cache.plan("Q1>xy|Q2>", toy_tokenize);
    EXPECT_EQ(p.keep, 6);  // BOS, Q, 1, >, x, y
    EXPECT_EQ(p.tokens, (std::vector<int32_t>{'|', 'Q', '2', '>'}));
    EXPECT_EQ(p.total(), 10);
}

TEST(ContextCache, ReuseStopsAtThePieceWhereTheTextDiffers) {
    ContextCache cache;
    apply(cache, cache.plan("sys|", toy_tokenize));
    apply(cache, cache.plan("sys|hello|", toy_tokenize));  // one piece "hello|"
    // The new prompt shares "sys|hel" but the piece "hello|" is whole or nothing.
    const auto p = cache.plan("sys|help|", toy_tokenize);
    EXPECT_EQ(p.keep, 5);  // BOS + "sys|"
    EXPECT_EQ(p.text_added, "help|");
}

TEST(ContextCache, WholeTextCachedReevaluatesTheLastTokenForItsLogits) {
    ContextCache cache;
    apply(cache, cache.plan("abc", toy_tokenize));
    const auto p = cache.plan("abc", toy_tokenize);
    EXPECT_EQ(p.keep, 3);
    EXPECT_EQ(p.tokens, (std::vector<int32_t>{'c'}));
    apply(cache, p);
    EXPECT_EQ(cache.tokens(), (std::vector<int32_t>{1000, 'a', 'b', 'c'}));
    EXPECT_EQ(cache.text(), "abc");
    // And the boundary survives: a longer prompt keeps all four tokens.
    EXPECT_EQ(cache.plan("abcd", toy_tokenize).keep, 4);
}

TEST(ContextCache, TemplateSwitchKeepsOnlyTheCommonStart) {
    ContextCache cache;
    apply(cache, cache.plan("A:hi\n", toy_tokenize));
    EXPECT_EQ(cache.plan("B:hi\n", toy_tokenize).keep, 0);
}

TEST(ContextCache, TruncateInsideAPieceKeepsTheTokensButNotTheirText) {
    ContextCache cache;
    apply(cache, cache.plan("ab", toy_tokenize));
    cache.append(std::vector<int32_t>{'c', 'd'}, "cd");
    cache.truncate(4);  // a cancelled evaluation: 'd' never made it into the cache
    EXPECT_EQ(cache.size(), 4);
    EXPECT_EQ(cache.text(), "ab");
    // "abc" can only take over at the "ab" boundary.
    const auto p = cache.plan("abce", toy_tokenize);
    EXPECT_EQ(p.keep, 3);
    EXPECT_EQ(p.text_added, "ce");
}

TEST(ContextCache, EmptyTextPlansNothing) {
    ContextCache cache;
    const auto p = cache.plan("", toy_tokenize);
    EXPECT_EQ(p.keep, 0);
    EXPECT_TRUE(p.tokens.empty());
}

}  // namespace
}  // namespace natter
