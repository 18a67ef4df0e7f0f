#pragma once
// Bookkeeping for what the KV cache holds: the token ids, the text they were made from, and
// the places where that text was cut into separately tokenized pieces. Only at those places
// can a new prompt take over from the cache, so a turn evaluates just what is new: the
// longest run of whole pieces whose text starts the new prompt is kept, the rest tokenized.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace natter {

class ContextCache {
public:
    // tokenize(text, at_start): at_start is true when the text begins the context (add BOS).
    using TokenizeFn = std::function<std::vector<int32_t>(std::string_view text, bool at_start)>;

    // How to turn the cache into one holding `text`: truncate to `keep` tokens, then
    // evaluate `tokens`, which stand for `text_added`. `tokens` is never empty (the last
    // token is evaluated again when the whole text is cached, for its logits) unless `text`
    // is empty.
    struct Plan {
        int keep = 0;
        std::vector<int32_t> tokens;
        std::string text_added;
        int total() const { return keep + static_cast<int>(tokens.size()); }
    };
    Plan plan(std::string_view text, const TokenizeFn& tokenize) const;

    // Forgets every position from n on (text cut back to the last piece boundary before it).
    void truncate(int n);
    // Adds one separately tokenized piece (its tokens were just evaluated).
    void append(std::span<const int32_t> tokens, std::string_view text);
    void clear() { *this = ContextCache(); }

    const std::vector<int32_t>& tokens() const { return tokens_; }
    const std::string& text() const { return text_; }  // text of the complete pieces
    int size() const { return static_cast<int>(tokens_.size()); }

private:
    std::vector<int32_t> tokens_;
    std::string text_;
    // (tokens, text bytes) at each piece boundary: tokens_[0, t) stand for text_[0, c).
    std::vector<std::pair<int, size_t>> breaks_{{0, 0}};
};

}  // namespace natter
