#pragma once
// Measuring UTF-8 text the way a terminal draws it: one cell for most characters, two
// for CJK ideographs and most emoji, none for combining marks. Everything the screen
// draws is cut into "glyphs" (a character plus the zero-width marks that ride on it) so
// that wrapping and the cursor never split what the terminal shows as one thing.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace natter::ui {

// Makes wcwidth() answer for UTF-8: switches LC_CTYPE to the user's locale, or C.UTF-8
// when that locale is not UTF-8. Returns false if no UTF-8 locale exists.
bool use_utf8_ctype();

// Decodes one code point at `pos` and advances `pos`. Invalid or truncated sequences
// decode as U+FFFD and consume one byte, so every byte string can be drawn.
char32_t decode_utf8(std::string_view text, std::size_t& pos);
void append_utf8(std::string& out, char32_t cp);

// Characters from terminal input that arrives one byte at a time: complete UTF-8 sequences
// come out as their code points, and whatever is not valid UTF-8 as U+FFFD, one for each
// bad byte or cut sequence, so that nothing typed or pasted silently vanishes.
class Utf8Assembler {
public:
    // The characters this byte completes (none while a sequence is unfinished).
    std::vector<char32_t> push(unsigned char byte);
    // An unfinished sequence left at the end of the input: U+FFFD, or nothing.
    std::vector<char32_t> flush();

private:
    std::string pending_;
};

// Cells one code point takes: 0 for combining marks and other zero-width characters,
// 2 for wide ones, 1 otherwise. Control characters count 1: sanitize() turns them into
// visible replacements before anything is drawn.
int char_width(char32_t cp);

// Cells the whole string takes on one line (no newlines expected).
int display_width(std::string_view utf8);

// One drawable unit: a base character and the zero-width characters after it.
struct Glyph {
    std::size_t begin = 0;  // byte offsets into the source text
    std::size_t end = 0;
    int width = 0;          // cells
    char32_t first = 0;     // the base code point (a space, a CJK ideograph, ...)
};
std::vector<Glyph> split_glyphs(std::string_view utf8);

// Text safe to hand to the terminal: tabs become spaces up to the next multiple of
// `tab_width` columns, other control characters (escape sequences from a model, stray
// carriage returns) become U+FFFD, invalid UTF-8 becomes U+FFFD. Newlines stay.
std::string sanitize(std::string_view utf8, int tab_width = 4);

// The text between newlines ("a\nb" -> {"a", "b"}; "" -> {""}).
std::vector<std::string> split_lines(std::string_view text);

// The longest prefix of `utf8` that fits in `width` cells, with "…" at its end when
// something was cut off.
std::string truncate_to_width(std::string_view utf8, int width);

// True for characters that a line may break before or after without a space: CJK
// ideographs, kana, hangul and fullwidth forms (Chinese and Japanese have no spaces).
bool breaks_anywhere(char32_t cp);

}  // namespace natter::ui
