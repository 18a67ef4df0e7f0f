#pragma once
// File types: what llama.cpp calls a model's quantization as a whole ("Q4_K_M") and stores
// as the number general.file_type (llama_ftype). The one table of those names and numbers:
// the quantizer, the chat's status line, bench and info all label a model through it.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "quant/types.h"

namespace natter {

class GgufFile;

struct FileType {
    std::string_view name;  // "Q4_K_M"
    int ftype;              // value of general.file_type
    // The type most weights get (quantize), llama.cpp's default type for the file type;
    // nullopt for a type natter would only name (it makes every one it lists).
    std::optional<GgmlType> base;
};

// Every file type llama.cpp names, in its numbering order.
std::span<const FileType> file_types();
// By name (case-insensitive; "Q4_K" = "Q4_K_M" as in llama.cpp) or by number ("15").
std::optional<FileType> find_file_type(std::string_view name_or_number);

// The model's label: general.file_type's name, else (older files, unknown numbers) the
// type of most weight bytes, e.g. "Q4_1".
std::string file_type_label(const GgufFile& file);

}  // namespace natter
