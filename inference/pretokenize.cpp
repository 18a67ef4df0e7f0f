#include "inference/pretokenize.h"

#include <cstdint>
#include <span>

#include "inference/unicode.h"

namespace natter {

namespace {

using unicode::kLetter;
using unicode::kMark;
using unicode::kNumber;
using unicode::kWhitespace;

// A stage splits every piece of the previous stage further. Pieces are lengths in code
// points, in order; a stage never looks across a piece's border (a regex run on each piece
// alone sees its end there), which is why the readers below return "nothing" past it.
using Pieces = std::vector<size_t>;

class Splitter {
public:
    explicit Splitter(std::span<const char32_t> piece, Pieces& out) : cpts_(piece), out_(out) {}

    size_t size() const { return cpts_.size(); }
    bool in_range(size_t pos) const { return pos < cpts_.size(); }
    char32_t cpt(size_t pos) const { return in_range(pos) ? cpts_[pos] : kNone; }
    uint8_t flags(size_t pos) const { return in_range(pos) ? unicode::flags(cpts_[pos]) : 0; }

    // Ends the current word at `end` (a no-op when empty) and returns `end`.
    size_t emit(size_t end) {
        if (end > word_start_) out_.push_back(end - word_start_);
        word_start_ = end;
        return end;
    }

    static constexpr char32_t kNone = 0xFFFFFFFF;

private:
    std::span<const char32_t> cpts_;
    Pieces& out_;
    size_t word_start_ = 0;
};

bool is_cr_or_lf(char32_t c) { return c == '\r' || c == '\n'; }

// 's 't 're 've 'm 'll 'd at pos: the length matched, or 0.
size_t contraction_length(const Splitter& s, size_t pos, bool ignore_case) {
    if (s.cpt(pos) != '\'' || !s.in_range(pos + 1)) return 0;
    auto lower = [&](size_t p) {
        const char32_t c = s.cpt(p);
        return ignore_case && c >= 'A' && c <= 'Z' ? c + 32 : c;
    };
    const char32_t c1 = lower(pos + 1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (!s.in_range(pos + 2)) return 0;
    const char32_t c2 = lower(pos + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

// \s+(?!\S)|\s+ at pos, where at least one whitespace is: a run that a non-space follows
// leaves its last whitespace to start the next word (" word").
size_t whitespace_run_end(const Splitter& s, size_t pos) {
    size_t n = 0;
    while (s.flags(pos + n) & kWhitespace) ++n;
    if (n > 1 && s.in_range(pos + n)) return pos + n - 1;
    return pos + n;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(std::span<const char32_t> piece, Pieces& out) {
    Splitter s(piece, out);
    for (size_t pos = 0; pos < s.size();) {
        if (size_t n = contraction_length(s, pos, false)) {
            pos = s.emit(pos + n);
            continue;
        }
        const bool space = s.cpt(pos) == ' ';
        const size_t start = pos + (space ? 1 : 0);
        const uint8_t f = s.flags(start);
        if (f & (kLetter | kNumber)) {
            const uint8_t cls = f & kLetter ? kLetter : kNumber;
            size_t end = start;
            while (s.flags(end) & cls) ++end;
            pos = s.emit(end);
            continue;
        }
        if (s.in_range(start) && !(f & kWhitespace)) {
            size_t end = start;
            while (s.in_range(end) && !(s.flags(end) & (kWhitespace | kLetter | kNumber))) ++end;
            pos = s.emit(end);
            continue;
        }
        pos = s.emit(std::max(whitespace_run_end(s, pos), pos + 1));
    }
}

// Llama-3 family:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
//  | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Qwen 3.5 counts marks as letters (letter_mask = kLetter | kMark).
void split_llama3(std::span<const char32_t> piece, Pieces& out, size_t max_digits,
                  uint8_t letter_mask) {
    Splitter s(piece, out);
    for (size_t pos = 0; pos < s.size();) {
        if (size_t n = contraction_length(s, pos, true)) {
            pos = s.emit(pos + n);
            continue;
        }
        const char32_t c = s.cpt(pos);
        const uint8_t f = s.flags(pos);
        if (!is_cr_or_lf(c) && !(f & kNumber) &&
            ((f & letter_mask) || (s.flags(pos + 1) & letter_mask))) {
            size_t end = pos + 1;
            while (s.flags(end) & letter_mask) ++end;
            pos = s.emit(end);
            continue;
        }
        if (f & kNumber) {
            size_t group = pos;
            while (s.flags(pos) & kNumber) {
                if (++pos - group >= max_digits) group = s.emit(pos);
            }
            s.emit(pos);
            continue;
        }
        const size_t start = pos + (c == ' ' ? 1 : 0);
        if (!(s.flags(start) & (kWhitespace | letter_mask | kNumber))) {
            size_t end = start;
            while (s.in_range(end) && !(s.flags(end) & (kWhitespace | letter_mask | kNumber))) ++end;
            while (is_cr_or_lf(s.cpt(end))) ++end;
            pos = s.emit(end);
            continue;
        }
        size_t n = 0;
        size_t after_last_newline = 0;
        while (s.flags(pos + n) & kWhitespace) {
            if (is_cr_or_lf(s.cpt(pos + n))) after_last_newline = pos + n + 1;
            ++n;
        }
        if (after_last_newline > 0) {
            pos = s.emit(after_last_newline);
            continue;
        }
        pos = s.emit(std::max(whitespace_run_end(s, pos), pos + 1));
    }
}

// The single-class regexes llama.cpp runs through std::regex.
enum class CharClass { Number, AsciiDigit, Letter, Punctuation, PunctuationDefault,
                       PunctuationFalcon, CrLf, DeepseekCjk };

bool in_class(CharClass cls, char32_t c) {
    const uint8_t f = unicode::flags(c);
    switch (cls) {
        case CharClass::Number: return f & kNumber;
        case CharClass::AsciiDigit: return c >= '0' && c <= '9';
        case CharClass::Letter: return f & kLetter;
        case CharClass::Punctuation: return f & unicode::kPunctuation;
        case CharClass::PunctuationDefault:  // [\p{P}\$\+<=>\^~\|]
            return (f & unicode::kPunctuation) || std::u32string_view(U"$+<=>^~|").find(c) != std::u32string_view::npos;
        case CharClass::PunctuationFalcon:  // [\p{P}\$\+<=>\^~\|`]
            return (f & unicode::kPunctuation) || std::u32string_view(U"$+<=>^~|`").find(c) != std::u32string_view::npos;
        case CharClass::CrLf: return is_cr_or_lf(c);
        case CharClass::DeepseekCjk:  // [一-龥ࠀ-一가-퟿]
            return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x0800 && c <= 0x4E00) ||
                   (c >= 0xAC00 && c <= 0xD7FF);
    }
    return false;
}

// A regex `\s?X{min,max}` whose matches become words, the text between them too.
struct Isolate {
    CharClass cls;
    size_t min = 1;
    size_t max = SIZE_MAX;
    bool optional_space = false;  // a leading \s? (std::regex \s: our White_Space)
};

void split_isolate(std::span<const char32_t> piece, Pieces& out, const Isolate& rule) {
    Splitter s(piece, out);
    size_t pos = 0;
    while (pos < s.size()) {
        size_t start = pos;
        if (rule.optional_space && (s.flags(pos) & kWhitespace) && s.in_range(pos + 1) &&
            in_class(rule.cls, s.cpt(pos + 1))) {
            start = pos + 1;
        }
        size_t end = start;
        while (end - start < rule.max && s.in_range(end) && in_class(rule.cls, s.cpt(end))) ++end;
        if (end - start < rule.min || end == start) {
            ++pos;
            continue;
        }
        s.emit(pos);  // the unmatched text before the match
        pos = s.emit(end);
    }
    s.emit(s.size());
}

// One stage of a pre-tokenizer: either a hand-made family splitter or an Isolate rule.
struct Stage {
    enum Kind { Gpt2, Llama3, Qwen2, Qwen35, Rule } kind;
    Isolate rule{CharClass::Number};
};

std::vector<Stage> stages_of(PreTokenizer type) {
    const Stage gpt2{Stage::Gpt2};
    auto rule = [](Isolate r) { return Stage{Stage::Rule, r}; };
    switch (type) {
        case PreTokenizer::Gpt2: return {gpt2};
        case PreTokenizer::Starcoder: return {rule({CharClass::Number, 1, 1}), gpt2};
        case PreTokenizer::Llama3: return {Stage{Stage::Llama3}};
        case PreTokenizer::Qwen2: return {Stage{Stage::Qwen2}};
        case PreTokenizer::Qwen35: return {Stage{Stage::Qwen35}};
        case PreTokenizer::Falcon:
            return {rule({CharClass::PunctuationFalcon}), gpt2, rule({CharClass::AsciiDigit, 3, 3})};
        case PreTokenizer::DeepseekCoder:
            return {rule({CharClass::CrLf, 1, 1}), rule({CharClass::Letter, 1, SIZE_MAX, true}),
                    rule({CharClass::Punctuation, 1, SIZE_MAX, true}),
                    rule({CharClass::DeepseekCjk}), rule({CharClass::Number, 1, 1})};
        case PreTokenizer::Default:
            return {rule({CharClass::PunctuationDefault}), gpt2, rule({CharClass::Number}),
                    rule({CharClass::AsciiDigit, 3, 3})};
    }
    return {gpt2};
}

void run_stage(const Stage& stage, std::span<const char32_t> piece, Pieces& out) {
    switch (stage.kind) {
        case Stage::Gpt2: return split_gpt2(piece, out);
        case Stage::Llama3: return split_llama3(piece, out, 3, kLetter);
        case Stage::Qwen2: return split_llama3(piece, out, 1, kLetter);
        case Stage::Qwen35: return split_llama3(piece, out, 1, kLetter | kMark);
        case Stage::Rule: return split_isolate(piece, out, stage.rule);
    }
}

struct NamedFamily {
    std::string_view name;
    PreTokenizerConfig config;
};

// llama.cpp's table of `tokenizer.ggml.pre` names, for the families implemented here.
constexpr PreTokenizerConfig kLlama3Bpe{PreTokenizer::Llama3, true, true, false};
constexpr PreTokenizerConfig kLlama3Plain{PreTokenizer::Llama3};
constexpr PreTokenizerConfig kQwen2{PreTokenizer::Qwen2};
constexpr PreTokenizerConfig kStarcoder{PreTokenizer::Starcoder};
constexpr PreTokenizerConfig kGpt2{PreTokenizer::Gpt2};
constexpr NamedFamily kFamilies[] = {
    {"default", {}}, {"", {}},
    {"llama3", kLlama3Bpe}, {"llama-v3", kLlama3Bpe}, {"llama-bpe", kLlama3Bpe},
    {"falcon3", kLlama3Bpe}, {"falcon-h1", kLlama3Bpe}, {"pixtral", kLlama3Bpe},
    {"midm-2.0", kLlama3Bpe}, {"lfm2", kLlama3Bpe}, {"jina-v5-nano", kLlama3Bpe},
    {"dbrx", kLlama3Plain}, {"smaug-bpe", kLlama3Plain},
    {"chatglm-bpe", {PreTokenizer::Llama3, false, false, true}},
    {"glm4", {PreTokenizer::Llama3, true, false, true}},
    {"glm5", {PreTokenizer::Llama3, true, false, true}},
    {"qwen2", kQwen2}, {"deepseek-r1-qwen", kQwen2}, {"kormo", kQwen2}, {"f2llmv2", kQwen2},
    {"stablelm2", kQwen2}, {"megrez", kQwen2}, {"hunyuan", kQwen2}, {"solar-open", kQwen2},
    {"qwen35", {PreTokenizer::Qwen35}},
    {"starcoder", kStarcoder}, {"refact", kStarcoder}, {"command-r", kStarcoder},
    {"smollm", kStarcoder}, {"codeshell", kStarcoder}, {"exaone", kStarcoder},
    {"minerva-7b", kStarcoder}, {"mellum2", kStarcoder},
    {"gpt-2", kGpt2}, {"phi-2", kGpt2}, {"jina-es", kGpt2}, {"jina-de", kGpt2},
    {"gigachat", kGpt2}, {"jina-v2-es", kGpt2}, {"jina-v2-de", kGpt2}, {"a.x-4.0", kGpt2},
    {"mellum", kGpt2}, {"modern-bert", kGpt2}, {"mpt", kGpt2}, {"olmo", kGpt2},
    {"jais", kGpt2}, {"exaone4", kGpt2}, {"trillion", kGpt2}, {"granite-docling", kGpt2},
    {"jina-v1-en", kGpt2}, {"jina-v2-code", kGpt2}, {"roberta-bpe", kGpt2},
    {"falcon", {PreTokenizer::Falcon}},
    {"deepseek-coder", {PreTokenizer::DeepseekCoder}},
};

}  // namespace

std::optional<PreTokenizerConfig> pre_tokenizer_for(std::string_view name) {
    for (const NamedFamily& family : kFamilies) {
        if (family.name == name) return family.config;
    }
    return std::nullopt;
}

std::vector<std::string> pre_tokenize(PreTokenizer type, std::string_view text) {
    const std::vector<char32_t> cpts = unicode::decode_utf8(text);
    Pieces pieces{cpts.size()};
    for (const Stage& stage : stages_of(type)) {
        Pieces next;
        next.reserve(pieces.size() * 2);
        size_t start = 0;
        for (size_t length : pieces) {
            run_stage(stage, std::span(cpts).subspan(start, length), next);
            start += length;
        }
        pieces = std::move(next);
    }
    std::vector<std::string> words;
    words.reserve(pieces.size());
    size_t start = 0;
    for (size_t length : pieces) {
        std::string& word = words.emplace_back();
        for (size_t i = start; i < start + length; ++i) unicode::append_utf8(word, cpts[i]);
        start += length;
    }
    return words;
}

}  // namespace natter
