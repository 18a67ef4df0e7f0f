// UTF-8 decoding and cell widths (wcwidth) for everything the screen draws.
#include "ui/text.h"

#include <clocale>
#include <cstring>
#include <cwchar>

namespace natter::ui {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool locale_is_utf8(const char* name) {
    if (name == nullptr) return false;
    const std::string n(name);
    return n.find("UTF-8") != std::string::npos || n.find("utf8") != std::string::npos ||
           n.find("UTF8") != std::string::npos || n.find("utf-8") != std::string::npos;
}

bool is_control(char32_t cp) {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
}

}  // namespace

bool use_utf8_ctype() {
    if (locale_is_utf8(std::setlocale(LC_CTYPE, ""))) return true;
    for (const char* name : {"C.UTF-8", "C.utf8", "en_US.UTF-8"}) {
        if (locale_is_utf8(std::setlocale(LC_CTYPE, name))) return true;
    }
    return false;
}

std::vector<char32_t> Utf8Assembler::push(unsigned char byte) {
    std::vector<char32_t> out;
    if (!pending_.empty() && (byte & 0xC0) != 0x80) out = flush();  // the sequence was cut short
    if (pending_.empty() && byte < 0x80) {
        out.push_back(byte);
        return out;
    }
    pending_ += static_cast<char>(byte);
    const auto lead = static_cast<unsigned char>(pending_[0]);
    const std::size_t length = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 0;
    if (length == 0 || pending_.size() == length) {  // a stray byte, or a whole sequence
        std::size_t pos = 0;
        out.push_back(length == 0 ? kReplacement : decode_utf8(pending_, pos));
        pending_.clear();
    }
    return out;
}

std::vector<char32_t> Utf8Assembler::flush() {
    if (pending_.empty()) return {};
    pending_.clear();
    return {kReplacement};
}

char32_t decode_utf8(std::string_view s, std::size_t& pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b0 = byte(pos);
    int extra = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
        ++pos;
        return b0;
    } else if ((b0 & 0xE0) == 0xC0) {
        extra = 1, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        extra = 2, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        extra = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
        ++pos;
        return kReplacement;
    }
    if (pos + extra >= s.size()) {  // truncated sequence
        ++pos;
        return kReplacement;
    }
    for (int i = 1; i <= extra; ++i) {
        const unsigned char b = byte(pos + i);
        if ((b & 0xC0) != 0x80) {
            ++pos;
            return kReplacement;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not characters.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++pos;
        return kReplacement;
    }
    pos += extra + 1;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

int char_width(char32_t cp) {
    if (cp < 0x7F) return 1;  // ASCII, controls included (sanitize() replaces those)
    const int w = ::wcwidth(static_cast<wchar_t>(cp));
    return w < 0 ? 1 : w;
}

int display_width(std::string_view s) {
    int width = 0;
    for (std::size_t pos = 0; pos < s.size();) width += char_width(decode_utf8(s, pos));
    return width;
}

std::vector<Glyph> split_glyphs(std::string_view s) {
    std::vector<Glyph> glyphs;
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t begin = pos;
        const char32_t cp = decode_utf8(s, pos);
        const int w = char_width(cp);
        if (w == 0 && !glyphs.empty() && glyphs.back().end == begin) {
            glyphs.back().end = pos;  // a combining mark rides on the character before it
        } else {
            glyphs.push_back(Glyph{begin, pos, w, cp});
        }
    }
    return glyphs;
}

std::string sanitize(std::string_view s, int tab_width) {
    std::string out;
    out.reserve(s.size());
    int column = 0;
    for (std::size_t pos = 0; pos < s.size();) {
        const char32_t cp = decode_utf8(s, pos);
        if (cp == '\n') {
            out += '\n';
            column = 0;
        } else if (cp == '\r') {
            // Windows line ends and carriage-return tricks would overwrite the line.
        } else if (cp == '\t') {
            const int spaces = tab_width - column % tab_width;
            out.append(static_cast<std::size_t>(spaces), ' ');
            column += spaces;
        } else {
            const char32_t shown = is_control(cp) ? kReplacement : cp;
            append_utf8(out, shown);
            column += char_width(shown);
        }
    }
    return out;
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string_view::npos; start = nl + 1) {
        lines.emplace_back(text.substr(start, nl - start));
    }
    lines.emplace_back(text.substr(start));
    return lines;
}

std::string truncate_to_width(std::string_view s, int width) {
    if (display_width(s) <= width) return std::string(s);
    if (width <= 0) return {};
    std::string out;
    int used = 0;
    for (const Glyph& g : split_glyphs(s)) {
        if (used + g.width > width - 1) break;
        out.append(s.substr(g.begin, g.end - g.begin));
        used += g.width;
    }
    return out + "\u2026";
}

bool breaks_anywhere(char32_t cp) {
    return (cp >= 0x1100 && cp <= 0x115F) ||    // Hangul Jamo
           (cp >= 0x2E80 && cp <= 0x9FFF) ||    // CJK radicals, punctuation, kana, ideographs
           (cp >= 0xA960 && cp <= 0xA97F) ||    // Hangul Jamo extended
           (cp >= 0xAC00 && cp <= 0xD7AF) ||    // Hangul syllables
           (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility ideographs
           (cp >= 0xFE30 && cp <= 0xFE4F) ||    // CJK compatibility forms
           (cp >= 0xFF00 && cp <= 0xFFEF) ||    // fullwidth and halfwidth forms
           (cp >= 0x1F000 && cp <= 0x1FAFF) ||  // emoji and pictographs
           (cp >= 0x20000 && cp <= 0x3FFFF);    // CJK extensions B and later
}

}  // namespace natter::ui
