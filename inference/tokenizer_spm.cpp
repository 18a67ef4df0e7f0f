// SentencePiece-style BPE over token scores (llama.cpp's `llm_tokenizer_spm`): start from
// single UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// vocabulary token with the highest score, and spell anything left that is not a token
// with byte-fallback tokens <0xNN>.
#include <queue>

#include "inference/tokenizer_vocab.h"
#include "inference/unicode.h"

namespace natter {

namespace {

struct Bigram {
    float score;
    int32_t left;
    int32_t right;
    uint32_t length;  // of both symbols when the pair was queued; stale if it changed

    // Highest score first; among equals the leftmost pair, as in llama.cpp.
    bool operator<(const Bigram& other) const {
        return score < other.score || (score == other.score && left > other.left);
    }
};

class SpmSession {
public:
    SpmSession(const Tokenizer::Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text), chain_(text) {}

    void run(std::vector<int32_t>& out) {
        for (int32_t i = 1; i < chain_.size(); ++i) try_add_bigram(i - 1, i);
        while (!queue_.empty()) {
            const Bigram bigram = queue_.top();
            queue_.pop();
            const uint32_t left_length = chain_[bigram.left].length;
            const uint32_t right_length = chain_[bigram.right].length;
            if (left_length == 0 || right_length == 0 || left_length + right_length != bigram.length) {
                continue;
            }
            chain_.merge(bigram.left);
            try_add_bigram(chain_[bigram.left].prev, bigram.left);
            try_add_bigram(bigram.left, chain_[bigram.left].next);
        }
        chain_.for_each([&](int32_t i) { emit(chain_.text(i), out); });
    }

private:
    void try_add_bigram(int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t length = chain_[left].length + chain_[right].length;
        const int32_t id = vocab_.find(text_.substr(chain_[left].start, length));
        if (id < 0) return;
        queue_.push({vocab_.scores[size_t(id)], left, right, length});
    }

    // Merged symbols are always tokens; a single character may not be.
    void emit(std::string_view text, std::vector<int32_t>& out) const {
        if (const int32_t id = vocab_.find(text); id >= 0) {
            out.push_back(id);
            return;
        }
        for (char c : text) {
            const int32_t id = vocab_.spm_byte_tokens[uint8_t(c)];
            if (id >= 0) out.push_back(id);
        }
    }

    const Tokenizer::Vocab& vocab_;
    std::string_view text_;
    SymbolChain chain_;
    std::priority_queue<Bigram> queue_;
};

}  // namespace

void spm_tokenize(const Tokenizer::Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
    if (!vocab.spm_words_are_independent) {
        SpmSession(vocab, text).run(out);
        return;
    }
    // No token reaches across the start of a "▁" run, so the text there splits into parts
    // that merge independently: the same ids, with much smaller queues.
    constexpr std::string_view kSpace = "\xE2\x96\x81";
    size_t part = 0;
    bool after_space = false;
    for (size_t pos = 0; pos < text.size();) {
        const bool space = text.substr(pos, 3) == kSpace;
        if (space && !after_space && pos > part) {
            SpmSession(vocab, text.substr(part, pos - part)).run(out);
            part = pos;
        }
        after_space = space;
        pos += std::min(unicode::utf8_sequence_length(uint8_t(text[pos])), text.size() - pos);
    }
    SpmSession(vocab, text.substr(part)).run(out);
}

}  // namespace natter
