#include "app/quantize.h"

#include <omp.h>

#include <array>
#include <chrono>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "inference/gguf.h"
#include "quant/quant.h"

namespace natter::app {

namespace {

constexpr std::array kFileTypes = {
    FileType{"F32", 0, GgmlType::F32},      FileType{"F16", 1, GgmlType::F16},
    FileType{"Q4_0", 2, GgmlType::Q4_0},    FileType{"Q4_1", 3, GgmlType::Q4_1},
    FileType{"Q8_0", 7, GgmlType::Q8_0},    FileType{"Q5_0", 8, GgmlType::Q5_0},
    FileType{"Q5_1", 9, GgmlType::Q5_1},    FileType{"Q2_K", 10, GgmlType::Q2_K},
    FileType{"Q3_K_S", 11, GgmlType::Q3_K}, FileType{"Q3_K_M", 12, GgmlType::Q3_K},
    FileType{"Q3_K_L", 13, GgmlType::Q3_K}, FileType{"Q4_K_S", 14, GgmlType::Q4_K},
    FileType{"Q4_K_M", 15, GgmlType::Q4_K}, FileType{"Q5_K_S", 16, GgmlType::Q5_K},
    FileType{"Q5_K_M", 17, GgmlType::Q5_K}, FileType{"Q6_K", 18, GgmlType::Q6_K},
    FileType{"BF16", 32, GgmlType::BF16},
};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool is_quantized(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

// A k-quant needs rows that are a multiple of 256; fall back to the nearest 32-block type.
GgmlType compatible_type(GgmlType wanted, int64_t row_length) {
    if (row_length % traits(wanted).block_size == 0) return wanted;
    switch (wanted) {
        case GgmlType::Q2_K:
        case GgmlType::Q3_K: wanted = GgmlType::Q4_0; break;
        case GgmlType::Q4_K: wanted = GgmlType::Q5_0; break;
        case GgmlType::Q5_K: wanted = GgmlType::Q5_1; break;
        case GgmlType::Q6_K: wanted = GgmlType::Q8_0; break;
        default: return GgmlType::F16;
    }
    return row_length % traits(wanted).block_size == 0 ? wanted : GgmlType::F16;
}

}  // namespace

std::optional<FileType> find_file_type(std::string_view name_or_number) {
    int number = -1;
    const auto [end, ec] = std::from_chars(name_or_number.data(), name_or_number.data() + name_or_number.size(), number);
    const bool numeric = ec == std::errc() && end == name_or_number.data() + name_or_number.size();
    std::string name = upper(name_or_number);
    if (name == "Q3_K" || name == "Q4_K" || name == "Q5_K") name += "_M";
    for (const FileType& ft : kFileTypes) {
        if (numeric ? ft.ftype == number : ft.name == name) return ft;
    }
    return std::nullopt;
}

std::string file_type_names() {
    std::string s;
    for (const FileType& ft : kFileTypes) s += (s.empty() ? "" : ", ") + std::string(ft.name);
    return s;
}

GgmlType choose_tensor_type(const QuantizeOptions& options, std::string_view name, int64_t n_dims,
                            int64_t row_length) {
    // Norms, biases and rope factors are tiny and precision-critical: they stay F32.
    if (n_dims < 2 || !name.ends_with(".weight")) return GgmlType::F32;
    return compatible_type(options.type.base, row_length);
}

QuantizeSummary quantize_model(const QuantizeOptions& options,
                               const std::function<void(const QuantizeProgress&)>& progress) {
    const auto start = std::chrono::steady_clock::now();
    std::error_code same_file_error;
    if (std::filesystem::equivalent(options.input, options.output, same_file_error)) {
        throw Error("the output file must differ from the input file");
    }
    GgufFile in = GgufFile::open(options.input);
    if (options.n_threads > 0) omp_set_num_threads(options.n_threads);

    GgufWriter out;
    out.set_alignment(in.alignment());
    for (const auto& [key, value] : in.metadata()) out.set(key, value);
    out.set("general.file_type", GgufValue{static_cast<uint32_t>(options.type.ftype)});
    out.set("general.quantization_version", GgufValue{static_cast<uint32_t>(2)});

    QuantizeSummary summary;
    for (const GgufTensor& t : in.tensors()) summary.bytes_in += t.nbytes;
    std::vector<std::vector<uint8_t>> buffers;
    buffers.reserve(in.tensors().size());
    uint64_t done = 0;
    int index = 0;
    for (const GgufTensor& t : in.tensors()) {
        if (progress) progress({t.name, index, static_cast<int>(in.tensors().size()), done, summary.bytes_in});
        const int64_t cols = t.shape.at(0);
        const int64_t rows = t.rows();
        const GgmlType type = choose_tensor_type(options, t.name, static_cast<int64_t>(t.shape.size()), cols);
        if (is_quantized(t.type) && type != t.type && !options.allow_requantize) {
            throw Error(options.input + ": tensor '" + t.name + "' is already quantized (" +
                        std::string(type_name(t.type)) + "); pass --allow-requantize to quantize it again");
        }
        const size_t out_row = row_size(type, cols);
        std::vector<uint8_t>& buf = buffers.emplace_back(out_row * static_cast<size_t>(rows));
        const size_t in_row = row_size(t.type, cols);
        if (type == t.type) {
            std::copy(t.data, t.data + t.nbytes, buf.begin());  // nothing to convert
        } else
#pragma omp parallel
        {
            std::vector<float> f32(static_cast<size_t>(cols));
#pragma omp for schedule(dynamic, 16)
            for (int64_t r = 0; r < rows; ++r) {
                dequantize_row(t.type, t.data + r * in_row, f32.data(), cols);
                quantize_row(type, f32.data(), buf.data() + r * out_row, cols);
            }
        }
        out.add_tensor(t.name, type, t.shape, buf.data(), buf.size());
        summary.bytes_out += buf.size();
        summary.n_weights += t.n_elements();
        done += t.nbytes;
        ++index;
    }
    if (progress && index > 0) {
        progress({in.tensors().back().name, index, index, summary.bytes_in, summary.bytes_in});
    }
    out.write(options.output);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

}  // namespace natter::app
