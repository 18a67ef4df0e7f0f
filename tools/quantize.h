#pragma once
// Model-level quantization: read a GGUF, choose each tensor's type, write a new GGUF.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "inference/file_type.h"
#include "quant/types.h"

namespace natter::tools {

// A file type natter can make (inference/file_type.h has them all), by name or number;
// throws natter::Error naming the choices (and saying why for llama.cpp types natter does
// not make).
FileType parse_file_type(std::string_view name_or_number);
std::string file_type_names();  // for --help and errors

struct QuantizeOptions {
    std::string input, output;
    FileType type{};
    bool pure = false;              // every weight matrix gets `type.base`, no mixes
    bool allow_requantize = false;  // accept already-quantized input
    int n_threads = 0;
    std::string imatrix;            // an importance matrix (tools/imatrix.h), or none
};

struct QuantizeProgress {
    std::string_view tensor;
    int index = 0, count = 0;       // tensor index / number of tensors
    uint64_t bytes_done = 0, bytes_total = 0;  // source bytes
};

struct QuantizeSummary {
    uint64_t bytes_in = 0, bytes_out = 0;
    int64_t n_weights = 0;          // elements of all tensors
    double seconds = 0;
    int n_converted = 0, n_copied = 0;        // tensors whose type changed / did not
    int n_with_imatrix = 0;                   // tensors quantized with importance weights
    std::map<GgmlType, int> output_types;     // tensors of each type in the output
};

// Throws natter::Error; on any failure no output file is left behind. progress is called
// from the calling thread, often (the caller rate-limits its drawing).
QuantizeSummary quantize_model(const QuantizeOptions& options,
                               const std::function<void(const QuantizeProgress&)>& progress);

}  // namespace natter::tools
