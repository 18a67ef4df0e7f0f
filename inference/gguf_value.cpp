// GgufValue: typed access to one metadata value and its short rendering for `natter info`.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "inference/gguf.h"

namespace natter {

std::string_view gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::UINT8: return "uint8";
        case GgufType::INT8: return "int8";
        case GgufType::UINT16: return "uint16";
        case GgufType::INT16: return "int16";
        case GgufType::UINT32: return "uint32";
        case GgufType::INT32: return "int32";
        case GgufType::FLOAT32: return "float32";
        case GgufType::BOOL: return "bool";
        case GgufType::STRING: return "string";
        case GgufType::ARRAY: return "array";
        case GgufType::UINT64: return "uint64";
        case GgufType::INT64: return "int64";
        case GgufType::FLOAT64: return "float64";
    }
    return "unknown";
}

// The variant's alternatives are declared in the GgufType numbering order.
GgufType GgufValue::type() const { return static_cast<GgufType>(value.index()); }

bool GgufValue::is_integer() const {
    switch (type()) {
        case GgufType::UINT8: case GgufType::INT8: case GgufType::UINT16: case GgufType::INT16:
        case GgufType::UINT32: case GgufType::INT32: case GgufType::UINT64: case GgufType::INT64:
            return true;
        default:
            return false;
    }
}

bool GgufValue::is_number() const {
    return is_integer() || type() == GgufType::FLOAT32 || type() == GgufType::FLOAT64;
}

namespace {

[[noreturn]] void wrong_kind(const GgufValue& v, std::string_view wanted) {
    throw Error("expected " + std::string(wanted) + " but the value is of type " +
                std::string(gguf_type_name(v.type())));
}

// Any integer alternative, widened without loss to a signed/unsigned pair.
struct WideInt {
    bool negative;
    uint64_t magnitude_or_value;  // the value itself when not negative
    int64_t signed_value;
};

WideInt widen(const GgufValue& v) {
    return std::visit(
        [&](const auto& x) -> WideInt {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                if constexpr (std::is_signed_v<T>) {
                    return {x < 0, static_cast<uint64_t>(x), static_cast<int64_t>(x)};
                } else {
                    return {false, static_cast<uint64_t>(x), static_cast<int64_t>(x)};
                }
            } else {
                wrong_kind(v, "an integer");
            }
        },
        v.value);
}

}  // namespace

int64_t GgufValue::as_int() const {
    const WideInt w = widen(*this);
    if (!w.negative && w.magnitude_or_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw Error("integer value " + std::to_string(w.magnitude_or_value) + " does not fit in int64");
    }
    return w.signed_value;
}

uint64_t GgufValue::as_uint() const {
    const WideInt w = widen(*this);
    if (w.negative) {
        throw Error("expected a non-negative integer but the value is " + std::to_string(w.signed_value));
    }
    return w.magnitude_or_value;
}

double GgufValue::as_float() const {
    if (const auto* f = std::get_if<float>(&value)) return *f;
    if (const auto* d = std::get_if<double>(&value)) return *d;
    if (!is_integer()) wrong_kind(*this, "a number");
    const WideInt w = widen(*this);
    return w.negative ? static_cast<double>(w.signed_value) : static_cast<double>(w.magnitude_or_value);
}

bool GgufValue::as_bool() const {
    if (const auto* b = std::get_if<bool>(&value)) return *b;
    wrong_kind(*this, "a bool");
}

const std::string& GgufValue::as_string() const {
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    wrong_kind(*this, "a string");
}

const GgufArray& GgufValue::as_array() const {
    if (const auto* a = std::get_if<GgufArray>(&value)) return *a;
    wrong_kind(*this, "an array");
}

std::vector<std::string> GgufValue::as_string_array() const {
    const GgufArray& array = as_array();
    std::vector<std::string> out;
    out.reserve(array.items.size());
    for (const GgufValue& item : array.items) out.push_back(item.as_string());
    return out;
}

std::vector<float> GgufValue::as_float_array() const {
    const GgufArray& array = as_array();
    std::vector<float> out;
    out.reserve(array.items.size());
    for (const GgufValue& item : array.items) out.push_back(static_cast<float>(item.as_float()));
    return out;
}

std::vector<int64_t> GgufValue::as_int_array() const {
    const GgufArray& array = as_array();
    std::vector<int64_t> out;
    out.reserve(array.items.size());
    for (const GgufValue& item : array.items) out.push_back(item.as_int());
    return out;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF count as invalid).
size_t utf8_sequence_length(std::string_view s, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

// Quoted, with control characters and invalid UTF-8 escaped, so that any value is safe to
// print on a terminal and fits on one line.
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t len = utf8_sequence_length(s, i);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (len == 0 || c < 0x20 || c == 0x7F) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            out += hex;
            i += 1;
            continue;
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    out += '"';
    return out;
}

// Shortest text that reads back as the same value; plain digits for ordinary magnitudes
// (100000.0 rather than 1e+05) and always a decimal point or exponent, so it reads as a float.
template <typename T>
std::string shortest(T x) {
    if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x < 0 ? "-inf" : "inf");
    char buf[512];
    const T magnitude = std::fabs(x);
    const bool plain = magnitude == 0 || (magnitude >= T(1e-4) && magnitude < T(1e15));
    const auto result =
        std::to_chars(buf, buf + sizeof buf, x, plain ? std::chars_format::fixed : std::chars_format::scientific);
    std::string out(buf, result.ptr);
    if (out.find_first_of(".e") == std::string::npos) out += ".0";
    return out;
}

std::string plural_label(GgufType element_type) {
    if (element_type == GgufType::STRING) return "strings";
    if (element_type == GgufType::ARRAY) return "arrays";
    return std::string(gguf_type_name(element_type)) + " values";
}

}  // namespace

std::string GgufValue::to_display_string(size_t max_items) const {
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::string>) {
                return quote(x);
            } else if constexpr (std::is_same_v<T, GgufArray>) {
                const bool abbreviated = x.items.size() > max_items;
                const size_t shown = abbreviated ? max_items : x.items.size();
                std::string out = "[";
                if (abbreviated) {
                    out += std::to_string(x.items.size());
                    out += ' ';
                    out += plural_label(x.element_type);
                    out += "] ";
                }
                for (size_t i = 0; i < shown; ++i) {
                    if (i > 0) out += ", ";
                    out += x.items[i].to_display_string(max_items);
                }
                out += abbreviated ? (shown > 0 ? ", ..." : "...") : "]";
                return out;
            } else if constexpr (std::is_floating_point_v<T>) {
                return shortest(x);
            } else {
                return std::to_string(x);
            }
        },
        value);
}

}  // namespace natter
