#include "session/context_cache.h"

#include <algorithm>

namespace natter {

ContextCache::Plan ContextCache::plan(std::string_view text, const TokenizeFn& tokenize) const {
    const auto mismatch = std::mismatch(text_.begin(), text_.end(), text.begin(), text.end());
    const size_t common = static_cast<size_t>(mismatch.first - text_.begin());
    // The last boundary inside the common text.
    size_t b = breaks_.size() - 1;
    while (breaks_[b].second > common) --b;
    const auto [t, c] = breaks_[b];

    Plan p;
    if (c < text.size() || t == 0) {
        p.keep = t;
        p.text_added = std::string(text.substr(c));
        if (!p.text_added.empty()) p.tokens = tokenize(p.text_added, t == 0);
        return p;
    }
    // Everything is cached already, but sampling needs the last position's logits: evaluate
    // the last token again, as the end of its piece.
    const size_t c0 = breaks_[b - 1].second;
    p.keep = t - 1;
    p.tokens = {tokens_[static_cast<size_t>(t - 1)]};
    p.text_added = text_.substr(c0, c - c0);
    return p;
}

void ContextCache::truncate(int n) {
    if (n >= size()) return;
    while (breaks_.back().first > n) breaks_.pop_back();
    tokens_.resize(static_cast<size_t>(n));
    text_.resize(breaks_.back().second);
}

void ContextCache::append(std::span<const int32_t> tokens, std::string_view text) {
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    text_ += text;
    breaks_.emplace_back(size(), text_.size());
}

}  // namespace natter
