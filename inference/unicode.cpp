#include "inference/unicode.h"

#include <algorithm>
#include <array>

namespace natter::unicode {

namespace {

uint8_t lookup_flags(char32_t cpt) {
    using detail::kCodepointRanges;
    const auto* end = kCodepointRanges + detail::kCodepointRangeCount;
    const auto* it = std::upper_bound(kCodepointRanges, end, cpt,
                                      [](char32_t c, const detail::CodepointRange& r) {
                                          return c < r.first;
                                      });
    return it == kCodepointRanges ? 0 : (it - 1)->flags;
}

// Latin-1 is most of what tokenizers see; a direct table spares the bisection.
const std::array<uint8_t, 256>& latin1_flags() {
    static const std::array<uint8_t, 256> table = [] {
        std::array<uint8_t, 256> t{};
        for (char32_t c = 0; c < 256; ++c) t[c] = lookup_flags(c);
        return t;
    }();
    return table;
}

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

struct ByteMaps {
    std::array<char32_t, 256> to_codepoint{};
    std::array<int16_t, 512> to_byte{};  // every mapped code point is below U+0200
};

const ByteMaps& byte_maps() {
    static const ByteMaps maps = [] {
        ByteMaps m;
        m.to_byte.fill(-1);
        auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        int next_extra = 0;
        for (int b = 0; b < 256; ++b) {
            const char32_t cpt = printable(b) ? char32_t(b) : char32_t(256 + next_extra++);
            m.to_codepoint[b] = cpt;
            m.to_byte[cpt] = int16_t(b);
        }
        return m;
    }();
    return maps;
}

}  // namespace

uint8_t flags(char32_t cpt) {
    if (cpt < 256) return latin1_flags()[cpt];
    if (cpt >= 0x110000) return 0;
    return lookup_flags(cpt);
}

size_t utf8_sequence_length(uint8_t lead) {
    static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLengths[lead >> 4];
}

char32_t decode_utf8(std::string_view text, size_t& pos) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
    const uint8_t b0 = byte(0);
    size_t length = 0;
    char32_t cpt = 0;
    if (b0 < 0x80) {
        length = 1;
        cpt = b0;
    } else if (b0 >= 0xC0 && b0 < 0xE0) {
        length = 2;
        cpt = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 < 0xF0) {
        length = 3;
        cpt = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 < 0xF8) {
        length = 4;
        cpt = b0 & 0x07;
    }
    if (length == 0 || pos + length > text.size()) {
        ++pos;
        return kReplacement;
    }
    for (size_t i = 1; i < length; ++i) {
        if (!is_continuation(byte(i))) {
            ++pos;
            return kReplacement;
        }
        cpt = (cpt << 6) | (byte(i) & 0x3F);
    }
    if (cpt > 0x10FFFF) {  // F5..F7 leads: llama.cpp cannot encode these either
        ++pos;
        return kReplacement;
    }
    pos += length;
    return cpt;
}

std::vector<char32_t> decode_utf8(std::string_view text) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) out.push_back(decode_utf8(text, pos));
    return out;
}

void append_utf8(std::string& out, char32_t cpt) {
    if (cpt < 0x80) {
        out.push_back(char(cpt));
    } else if (cpt < 0x800) {
        out.push_back(char(0xC0 | (cpt >> 6)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x10000) {
        out.push_back(char(0xE0 | (cpt >> 12)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cpt >> 18)));
        out.push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    }
}

Utf8Check check_utf8(std::string_view text, size_t pos) {
    const uint8_t b0 = static_cast<uint8_t>(text[pos]);
    if (b0 < 0x80) return {Utf8Status::Complete, 1};
    const size_t length = b0 >= 0xC2 && b0 <= 0xDF   ? 2
                          : b0 >= 0xE0 && b0 <= 0xEF ? 3
                          : b0 >= 0xF0 && b0 <= 0xF4 ? 4
                                                     : 0;
    if (length == 0) return {Utf8Status::Invalid, 1};
    // The second byte's range is what excludes overlong forms, surrogates and > U+10FFFF.
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
    const size_t available = std::min(length, text.size() - pos);
    for (size_t i = 1; i < available; ++i) {
        const uint8_t b = static_cast<uint8_t>(text[pos + i]);
        const bool ok = i == 1 ? (b >= lo && b <= hi) : is_continuation(b);
        if (!ok) return {Utf8Status::Invalid, i};
    }
    if (available < length) return {Utf8Status::Truncated, available};
    return {Utf8Status::Complete, length};
}

bool is_valid_utf8(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
        const Utf8Check c = check_utf8(text, pos);
        if (c.status != Utf8Status::Complete) return false;
        pos += c.length;
    }
    return true;
}

char32_t byte_to_codepoint(uint8_t byte) { return byte_maps().to_codepoint[byte]; }

int codepoint_to_byte(char32_t cpt) {
    return cpt < 512 ? byte_maps().to_byte[cpt] : -1;
}

}  // namespace natter::unicode
