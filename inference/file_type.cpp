#include "inference/file_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>

#include "inference/gguf.h"

namespace natter {

namespace {

// llama.cpp's llama_ftype (include/llama.h); the gaps are numbers it retired. The base types
// are its llama_ftype_get_default_type's (IQ2_S's is IQ2_XS, IQ3_XS's IQ3_S).
constexpr std::array kFileTypes = {
    FileType{"F32", 0, GgmlType::F32},      FileType{"F16", 1, GgmlType::F16},
    FileType{"Q4_0", 2, GgmlType::Q4_0},    FileType{"Q4_1", 3, GgmlType::Q4_1},
    FileType{"Q8_0", 7, GgmlType::Q8_0},    FileType{"Q5_0", 8, GgmlType::Q5_0},
    FileType{"Q5_1", 9, GgmlType::Q5_1},    FileType{"Q2_K", 10, GgmlType::Q2_K},
    FileType{"Q3_K_S", 11, GgmlType::Q3_K}, FileType{"Q3_K_M", 12, GgmlType::Q3_K},
    FileType{"Q3_K_L", 13, GgmlType::Q3_K}, FileType{"Q4_K_S", 14, GgmlType::Q4_K},
    FileType{"Q4_K_M", 15, GgmlType::Q4_K}, FileType{"Q5_K_S", 16, GgmlType::Q5_K},
    FileType{"Q5_K_M", 17, GgmlType::Q5_K}, FileType{"Q6_K", 18, GgmlType::Q6_K},
    FileType{"IQ2_XXS", 19, GgmlType::IQ2_XXS}, FileType{"IQ2_XS", 20, GgmlType::IQ2_XS},
    FileType{"Q2_K_S", 21, GgmlType::Q2_K},     FileType{"IQ3_XS", 22, GgmlType::IQ3_S},
    FileType{"IQ3_XXS", 23, GgmlType::IQ3_XXS}, FileType{"IQ1_S", 24, GgmlType::IQ1_S},
    FileType{"IQ4_NL", 25, GgmlType::IQ4_NL},   FileType{"IQ3_S", 26, GgmlType::IQ3_S},
    FileType{"IQ3_M", 27, GgmlType::IQ3_S},     FileType{"IQ2_S", 28, GgmlType::IQ2_XS},
    FileType{"IQ2_M", 29, GgmlType::IQ2_S},     FileType{"IQ4_XS", 30, GgmlType::IQ4_XS},
    FileType{"IQ1_M", 31, GgmlType::IQ1_M},     FileType{"BF16", 32, GgmlType::BF16},
    FileType{"TQ1_0", 36, GgmlType::TQ1_0},     FileType{"TQ2_0", 37, GgmlType::TQ2_0},
};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::optional<int> parse_number(std::string_view s) {
    int number = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return number;
}

}  // namespace

std::span<const FileType> file_types() { return kFileTypes; }

std::optional<FileType> find_file_type(std::string_view name_or_number) {
    const std::optional<int> number = parse_number(name_or_number);
    std::string name = upper(name_or_number);
    if (name == "Q3_K" || name == "Q4_K" || name == "Q5_K") name += "_M";
    for (const FileType& ft : kFileTypes) {
        if (number ? ft.ftype == *number : ft.name == name) return ft;
    }
    return std::nullopt;
}

std::string file_type_label(const GgufFile& file) {
    const int64_t ftype = file.get_int("general.file_type", -1);
    if (ftype >= 0) {
        if (const auto type = find_file_type(std::to_string(ftype))) return std::string(type->name);
    }
    std::map<GgmlType, int64_t> bytes;
    for (const GgufTensor& t : file.tensors()) {
        if (t.shape.size() >= 2) bytes[t.type] += static_cast<int64_t>(t.nbytes);
    }
    const auto most = std::max_element(bytes.begin(), bytes.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    return most == bytes.end() ? "?" : std::string(type_name(most->first));
}

}  // namespace natter
