// Byte-level BPE (GPT-2 style, llama.cpp's `llm_tokenizer_bpe`): pre-tokenize into words,
// write each word's bytes as GPT-2's printable characters, then within each word keep
// merging the adjacent pair with the lowest merge rank.
#include <queue>
#include <unordered_map>

#include "inference/tokenizer_vocab.h"
#include "inference/unicode.h"

namespace natter {

namespace {

struct Bigram {
    int32_t rank;
    int32_t left;
    int32_t right;
    uint32_t left_length;  // the pair is stale once either symbol has changed
    uint32_t right_length;

    // std::priority_queue pops the largest: make that the lowest rank, then leftmost.
    bool operator<(const Bigram& other) const {
        return rank > other.rank || (rank == other.rank && left > other.left);
    }
};

constexpr size_t kMaxCachedWords = 1 << 16;

std::string byte_encode(std::string_view word) {
    std::string encoded;
    encoded.reserve(word.size() * 2);
    for (char c : word) unicode::append_utf8(encoded, unicode::byte_to_codepoint(uint8_t(c)));
    return encoded;
}

class BpeWord {
public:
    BpeWord(const Tokenizer::Vocab& vocab, std::string_view word) : vocab_(vocab), chain_(word) {
        ids_.resize(size_t(chain_.size()));
        for (int32_t i = 0; i < chain_.size(); ++i) ids_[size_t(i)] = vocab_.find(chain_.text(i));
    }

    void run(std::vector<int32_t>& out) {
        for (int32_t i = 1; i < chain_.size(); ++i) try_add_bigram(i - 1, i);
        while (!queue_.empty()) {
            const Bigram bigram = queue_.top();
            queue_.pop();
            if (chain_[bigram.left].length != bigram.left_length ||
                chain_[bigram.right].length != bigram.right_length || chain_[bigram.left].next != bigram.right) {
                continue;
            }
            chain_.merge(bigram.left);
            ids_[size_t(bigram.left)] = vocab_.find(chain_.text(bigram.left));
            try_add_bigram(chain_[bigram.left].prev, bigram.left);
            try_add_bigram(bigram.left, chain_[bigram.left].next);
        }
        chain_.for_each([&](int32_t i) { emit(i, out); });
    }

private:
    int32_t rank_of(int32_t left, int32_t right) const {
        const int32_t l = ids_[size_t(left)], r = ids_[size_t(right)];
        if (l >= 0 && r >= 0) {  // then a merge keyed by text cannot match
            return vocab_.merge_rank_by_ids.find(l, r);
        }
        if (vocab_.merge_rank_by_text.empty()) return -1;
        auto it = vocab_.merge_rank_by_text.find(
            std::pair<std::string, std::string>(chain_.text(left), chain_.text(right)));
        return it == vocab_.merge_rank_by_text.end() ? -1 : it->second;
    }

    void try_add_bigram(int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const int32_t rank = rank_of(left, right);
        if (rank >= 0) queue_.push({rank, left, right, chain_[left].length, chain_[right].length});
    }

    // A symbol that is no token (possible only with an inconsistent vocabulary) is spelled
    // byte by byte where single bytes are tokens, as llama.cpp does.
    void emit(int32_t i, std::vector<int32_t>& out) const {
        if (ids_[size_t(i)] >= 0) {
            out.push_back(ids_[size_t(i)]);
            return;
        }
        for (char c : chain_.text(i)) {
            const int32_t id = vocab_.find(std::string_view(&c, 1));
            if (id >= 0) out.push_back(id);
        }
    }

    const Tokenizer::Vocab& vocab_;
    SymbolChain chain_;
    std::vector<int32_t> ids_;  // the token each symbol spells, or -1
    std::priority_queue<Bigram> queue_;
};

}  // namespace

void bpe_tokenize(const Tokenizer::Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
    // Words repeat a lot in real text, and a word's ids depend on the word alone.
    std::unordered_map<std::string, std::vector<int32_t>> cache;
    std::vector<int32_t> ids;
    for (const std::string& word : pre_tokenize(vocab.pre.type, text)) {
        std::string encoded = byte_encode(word);
        if (auto it = cache.find(encoded); it != cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            continue;
        }
        ids.clear();
        const int32_t whole = vocab.pre.ignore_merges ? vocab.find(encoded) : -1;
        if (whole >= 0) ids.push_back(whole);
        else BpeWord(vocab, encoded).run(ids);
        out.insert(out.end(), ids.begin(), ids.end());
        if (cache.size() < kMaxCachedWords) cache.emplace(std::move(encoded), ids);
    }
}

}  // namespace natter
