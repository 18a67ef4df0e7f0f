#pragma once
// The tokenizer's data, shared by its source files (not part of the public interface).
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inference/pretokenize.h"
#include "inference/token_index.h"
#include "inference/tokenizer.h"

namespace natter {

// Token attribute bits, as llama.cpp keeps them: loading may add Control to a token whose
// text marks it as an end-of-turn or FIM token.
namespace attr_bit {
constexpr uint8_t kNormal = 1, kUnknown = 2, kControl = 4, kUserDefined = 8, kUnused = 16,
                  kByte = 32, kLstrip = 64, kRstrip = 128;
}

struct Tokenizer::Vocab {
    enum class Model { Spm, Bpe } model = Model::Spm;
    PreTokenizerConfig pre;

    std::vector<std::string> texts;
    std::vector<float> scores;
    std::vector<uint8_t> attrs;  // attr_bit flags
    TextIndex index;

    // BPE merge ranks. Merges whose two sides are both tokens are keyed by the ids (fast);
    // the rest, rare, by text.
    PairRanks merge_rank_by_ids;
    std::map<std::pair<std::string, std::string>, int32_t, std::less<>> merge_rank_by_text;

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
    bool add_bos = false, add_eos = false, add_space_prefix = false;

    std::vector<int32_t> special_by_length;  // control/unknown/user-defined, longest first
    std::vector<int32_t> eog;                // sorted
    std::vector<std::string> pieces;         // token_to_piece(id, render_special = true)
    std::array<int32_t, 256> spm_byte_tokens{};  // -1 where the vocabulary has none
    // No token has a "▁" after anything but "▁": merging never crosses the start of a
    // space run, so SentencePiece can work word by word.
    bool spm_words_are_independent = false;

    int32_t n() const { return int32_t(texts.size()); }
    int32_t find(std::string_view text) const { return index.find(text, texts); }
    bool has(int32_t id, uint8_t bits) const { return attrs[size_t(id)] & bits; }
};

// Text split into symbols that merging joins back, as a linked list over its bytes. Both
// merge algorithms start from single UTF-8 characters, counted by the lead byte's announced
// length only, so malformed bytes still form symbols.
class SymbolChain {
public:
    struct Symbol {
        uint32_t start;
        uint32_t length;  // 0 once merged into its left neighbour
        int32_t prev;
        int32_t next;
    };

    explicit SymbolChain(std::string_view text);
    int32_t size() const { return int32_t(symbols_.size()); }
    const Symbol& operator[](int32_t i) const { return symbols_[size_t(i)]; }
    std::string_view text(int32_t i) const { return text_.substr(symbols_[size_t(i)].start, symbols_[size_t(i)].length); }
    // Joins the symbol after `left` into it.
    void merge(int32_t left);
    // Calls f(index) for each remaining symbol, in order.
    template <class F>
    void for_each(F&& f) const {
        for (int32_t i = symbols_.empty() ? -1 : 0; i != -1; i = symbols_[size_t(i)].next) f(i);
    }

private:
    std::string_view text_;
    std::vector<Symbol> symbols_;
};

// After the tokens are loaded: special-token ids and attributes, the end-of-generation set,
// the special tokens to match in text, and the pieces (tokenizer_special.cpp).
void load_special_tokens(const GgufFile& file, Tokenizer::Vocab& vocab);

// The merge algorithms, for one fragment of text without special tokens.
void spm_tokenize(const Tokenizer::Vocab& vocab, std::string_view text, std::vector<int32_t>& out);
void bpe_tokenize(const Tokenizer::Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace natter
