#include "inference/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "inference/tokenizer_vocab.h"
#include "inference/unicode.h"

namespace natter {

namespace {

using Vocab = Tokenizer::Vocab;
using namespace attr_bit;

// A stretch of the input: plain text still to tokenize, or a special token found in it.
struct Fragment {
    int32_t token;  // -1 for text
    size_t offset;
    size_t length;
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Cuts the special token `id` out of every text fragment (llama.cpp's
// tokenizer_st_partition; tokens are tried longest first, so the longest text wins).
std::vector<Fragment> split_on_token(const Vocab& vocab, std::string_view text, int32_t id,
                                     const std::vector<Fragment>& fragments) {
    const std::string& needle = vocab.texts[size_t(id)];
    std::vector<Fragment> out;
    out.reserve(fragments.size());
    for (const Fragment& f : fragments) {
        if (f.token >= 0 || f.length < needle.size()) {
            out.push_back(f);
            continue;
        }
        size_t begin = f.offset;
        size_t end = f.offset + f.length;
        for (;;) {
            const size_t match = text.substr(0, end).find(needle, begin);
            if (match == std::string_view::npos) break;
            size_t left_end = match;
            if (vocab.has(id, kLstrip)) {
                while (left_end > begin && is_space(text[left_end - 1])) --left_end;
            }
            if (left_end > begin) out.push_back({-1, begin, left_end - begin});
            out.push_back({id, match, needle.size()});
            begin = match + needle.size();
            if (vocab.has(id, kRstrip)) {
                while (begin < end && is_space(text[begin])) ++begin;
            }
        }
        if (end > begin) out.push_back({-1, begin, end - begin});
    }
    return out;
}

std::vector<Fragment> partition(const Vocab& vocab, std::string_view text, bool parse_special) {
    std::vector<Fragment> fragments;
    if (text.empty()) return fragments;
    fragments.push_back({-1, 0, text.size()});
    for (int32_t id : vocab.special_by_length) {
        // Without parse_special only user-defined tokens are recognised.
        if (!parse_special && vocab.has(id, kControl | kUnknown)) continue;
        fragments = split_on_token(vocab, text, id, fragments);
    }
    return fragments;
}

void tokenize_spm(const Vocab& vocab, std::string_view text, const std::vector<Fragment>& fragments,
                  std::vector<int32_t>& out) {
    bool after_special = true;  // the text's start counts: it gets the prefix space too
    std::string escaped;
    for (const Fragment& f : fragments) {
        if (f.token >= 0) {
            out.push_back(f.token);
            after_special = true;
            continue;
        }
        escaped.clear();
        if (vocab.add_space_prefix && after_special) escaped = "\xE2\x96\x81";
        for (char c : text.substr(f.offset, f.length)) {
            if (c == ' ') escaped += "\xE2\x96\x81";
            else escaped.push_back(c);
        }
        spm_tokenize(vocab, escaped, out);
        after_special = false;
    }
}

void check_id(const Vocab& vocab, int32_t id) {
    if (id < 0 || id >= vocab.n()) {
        throw Error("Token id " + std::to_string(id) + " is outside the vocabulary of " +
                    std::to_string(vocab.n()) + " tokens.");
    }
}

}  // namespace

SymbolChain::SymbolChain(std::string_view text) : text_(text) {
    symbols_.reserve(text.size());
    for (size_t offset = 0; offset < text.size();) {
        const size_t length = std::min(unicode::utf8_sequence_length(uint8_t(text[offset])), text.size() - offset);
        const int32_t index = int32_t(symbols_.size());
        offset += length;
        symbols_.push_back({uint32_t(offset - length), uint32_t(length), index - 1,
                            offset == text.size() ? -1 : index + 1});
    }
}

void SymbolChain::merge(int32_t left) {
    Symbol& l = symbols_[size_t(left)];
    Symbol& r = symbols_[size_t(l.next)];
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols_[size_t(r.next)].prev = left;
}

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}

std::vector<int32_t> Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
    const Vocab& vocab = *vocab_;
    const std::vector<Fragment> fragments = partition(vocab, text, parse_special);
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_special && vocab.add_bos) out.push_back(vocab.bos);
    if (vocab.model == Vocab::Model::Spm) {
        tokenize_spm(vocab, text, fragments, out);
    } else {
        for (const Fragment& f : fragments) {
            if (f.token >= 0) out.push_back(f.token);
            else bpe_tokenize(vocab, text.substr(f.offset, f.length), out);
        }
    }
    if (add_special && vocab.add_eos) out.push_back(vocab.eos);
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    check_id(*vocab_, id);
    if (!render_special && vocab_->has(id, kControl | kUnknown)) return {};
    return vocab_->pieces[size_t(id)];
}

std::string Tokenizer::detokenize(std::span<const int32_t> ids, bool render_special) const {
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i) {
        std::string piece = token_to_piece(ids[i], render_special);
        // The space SentencePiece put before the text is not part of it.
        if (i == 0 && vocab_->add_space_prefix && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
        text += piece;
    }
    return text;
}

int32_t Tokenizer::n_vocab() const { return vocab_->n(); }
int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
bool Tokenizer::add_bos() const { return vocab_->add_bos; }
bool Tokenizer::add_eos() const { return vocab_->add_eos; }

bool Tokenizer::is_eog(int32_t id) const {
    return std::binary_search(vocab_->eog.begin(), vocab_->eog.end(), id);
}

std::string_view Tokenizer::token_text(int32_t id) const {
    check_id(*vocab_, id);
    return vocab_->texts[size_t(id)];
}

TokenAttr Tokenizer::attr(int32_t id) const {
    check_id(*vocab_, id);
    if (vocab_->has(id, kUnknown)) return TokenAttr::Unknown;
    if (vocab_->has(id, kControl)) return TokenAttr::Control;
    if (vocab_->has(id, kUserDefined)) return TokenAttr::UserDefined;
    if (vocab_->has(id, kByte)) return TokenAttr::Byte;
    if (vocab_->has(id, kNormal)) return TokenAttr::Normal;
    return TokenAttr::Unused;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    const int32_t id = vocab_->find(text);
    return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

}  // namespace natter
