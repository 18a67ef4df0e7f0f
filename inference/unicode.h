#pragma once
// The Unicode facts the tokenizers need: lenient UTF-8 decoding (the way llama.cpp does it,
// so token ids match), code point classes for the pre-tokenizer regexes, and GPT-2's
// byte <-> printable-character mapping.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace natter::unicode {

// Class flags of a code point. The general categories are exclusive; a code point with
// none of them is unassigned (Cn). White_Space is independent of the category.
constexpr uint8_t kLetter = 1;       // \p{L}
constexpr uint8_t kNumber = 2;       // \p{N}
constexpr uint8_t kPunctuation = 4;  // \p{P}
constexpr uint8_t kSymbol = 8;       // \p{S}
constexpr uint8_t kMark = 16;        // \p{M}
constexpr uint8_t kSeparator = 32;   // \p{Z}
constexpr uint8_t kControl = 64;     // \p{C} except Cn
constexpr uint8_t kWhitespace = 128; // \s (the White_Space property)

constexpr char32_t kReplacement = 0xFFFD;

uint8_t flags(char32_t cpt);
inline bool is_letter(char32_t c) { return flags(c) & kLetter; }
inline bool is_number(char32_t c) { return flags(c) & kNumber; }
inline bool is_whitespace(char32_t c) { return flags(c) & kWhitespace; }

// Length of the UTF-8 sequence a lead byte announces (1 for continuation bytes), without
// checking what follows: SentencePiece splits text into symbols this way.
size_t utf8_sequence_length(uint8_t lead);

// Decodes one code point at `pos` and advances past it. A malformed sequence yields
// U+FFFD and advances one byte. Like llama.cpp it checks only the lead byte's length and
// the continuation bytes' high bits (not overlong forms or surrogates), because token
// ids must match what llama.cpp produces for the same bytes.
char32_t decode_utf8(std::string_view text, size_t& pos);
std::vector<char32_t> decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cpt);

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), for text
// shown to people. check_utf8 says how the sequence starting at `pos` stands:
//   Complete  - `length` bytes form one character;
//   Truncated - the `length` bytes left are a valid start, the rest has not arrived;
//   Invalid   - the first `length` bytes (the maximal ill-formed part) are one U+FFFD.
enum class Utf8Status { Complete, Truncated, Invalid };
struct Utf8Check {
    Utf8Status status;
    size_t length;
};
Utf8Check check_utf8(std::string_view text, size_t pos);
bool is_valid_utf8(std::string_view text);

// GPT-2 byte-level BPE writes every byte as a printable code point: printable Latin-1
// bytes stand for themselves, the other 68 map to U+0100 and up.
char32_t byte_to_codepoint(uint8_t byte);
// The byte a code point stands for, or -1 when it is not one of the 256.
int codepoint_to_byte(char32_t cpt);

namespace detail {
struct CodepointRange {
    uint32_t first;
    uint8_t flags;
};
extern const CodepointRange kCodepointRanges[];
extern const size_t kCodepointRangeCount;
}  // namespace detail

}  // namespace natter::unicode
