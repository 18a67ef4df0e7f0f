#include "tools/quantize.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "tools/imatrix.h"
#include "tools/quantize_mix.h"
#include "core/error.h"
#include "inference/gguf.h"
#include "quant/quant.h"

namespace natter::tools {

namespace {

bool is_quantized(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return buf;
}

// Refuses, before any work, an already-quantized tensor that would change type.
void check_requantize(const QuantizeOptions& options, const GgufFile& in, const std::vector<GgmlType>& types) {
    if (options.allow_requantize) return;
    for (size_t i = 0; i < types.size(); ++i) {
        const GgufTensor& t = in.tensors()[i];
        if (is_quantized(t.type) && types[i] != t.type) {
            throw Error(options.input + ": tensor '" + t.name + "' is already quantized (" +
                        std::string(type_name(t.type)) + "); quantizing it again loses precision, " +
                        "pass --allow-requantize to do it anyway");
        }
    }
}

// llama.cpp's rule, before any work: the lowest types need an importance matrix, and one
// that leaves out a tensor that needs it is refused as well.
void check_imatrix_needed(const QuantizeOptions& options, const GgufFile& in, const std::vector<GgmlType>& types,
                          const std::map<std::string, std::vector<float>>& importance) {
    for (size_t i = 0; i < types.size(); ++i) {
        const GgufTensor& t = in.tensors()[i];
        if (!tensor_is_quantizable(t.name, static_cast<int64_t>(t.shape.size())) ||
            !tensor_requires_imatrix(t.name, types[i], options.type.ftype)) {
            continue;
        }
        const std::string what = std::string(type_name(types[i])) + " for " + t.name + " in " + std::string(options.type.name);
        if (options.imatrix.empty()) {
            throw Error(what + " needs an importance matrix (--imatrix FILE, see natter imatrix): without one the result is "
                        "garbage, and llama.cpp refuses it too");
        }
        if (types[i] != t.type && !importance.contains(t.name)) {
            throw Error(options.imatrix + " has no importance values for " + t.name + ", and " + what +
                        " needs them (without, the result is garbage)");
        }
    }
}

// Converts one tensor into `out` on n_threads threads. Rows go out in blocks from a shared
// counter; the calling thread works too and reports progress between its blocks.
void convert_tensor(const GgufTensor& t, GgmlType type, const float* importance, std::vector<uint8_t>& out,
                    int n_threads, const std::function<void(uint64_t)>& on_bytes_done) {
    const int64_t cols = t.shape.at(0);
    const int64_t rows = t.rows();
    const size_t in_row = row_size(t.type, cols);
    const size_t out_row = row_size(type, cols);
    out.resize(out_row * static_cast<size_t>(rows));
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / (cols * 4));  // ~1 MiB of floats
    std::atomic<int64_t> next{0}, rows_done{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    const auto work = [&](bool report) {
        std::vector<float> f32(static_cast<size_t>(cols));
        int64_t reported = 0;
        for (int64_t first; !failed && (first = next.fetch_add(block)) < rows;) {
            const int64_t last = std::min(rows, first + block);
            try {
                for (int64_t r = first; r < last; ++r) {
                    dequantize_row(t.type, t.data + r * in_row, f32.data(), cols);
                    if (importance) quantize_row_imatrix(type, f32.data(), importance, out.data() + r * out_row, cols);
                    else quantize_row(type, f32.data(), out.data() + r * out_row, cols);
                }
            } catch (...) {
                const std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                failed = true;
            }
            rows_done += last - first;
            if (report) {
                const int64_t now = rows_done;
                on_bytes_done(static_cast<uint64_t>(now - reported) * in_row);
                reported = now;
            }
        }
        return reported;
    };
    std::vector<std::thread> helpers;
    const int64_t n_blocks = (rows + block - 1) / block;
    for (int i = 1; i < n_threads && i < n_blocks; ++i) helpers.emplace_back(work, false);
    const int64_t reported = work(true);
    for (std::thread& h : helpers) h.join();
    if (error) std::rethrow_exception(error);
    on_bytes_done(static_cast<uint64_t>(rows - reported) * in_row);
}

// The importance weights of tensor t (nullptr: none in the matrix); a matrix of another
// width is an error, as in llama.cpp (but for the token embedding, never collected).
const float* importance_for(const std::map<std::string, std::vector<float>>& weights, const GgufTensor& t,
                            const std::string& path) {
    const auto it = weights.find(t.name);
    if (it == weights.end()) return nullptr;
    if (it->second.size() == static_cast<size_t>(t.shape.at(0))) return it->second.data();
    if (t.name == "token_embd.weight") return nullptr;
    throw Error(path + " has " + std::to_string(it->second.size()) + " importance values for " + t.name + ", whose rows have " +
                std::to_string(t.shape.at(0)) + " elements: it was computed for another model");
}

// IQ2_XXS, IQ2_XS and IQ1_S have no quantizer without importance values: a tensor of one of
// them that the matrix does not cover is refused before any work (llama.cpp asserts there).
void check_importance(const QuantizeOptions& options, const GgufFile& in, const std::vector<GgmlType>& types,
                      const std::map<std::string, std::vector<float>>& importance) {
    for (size_t i = 0; i < types.size(); ++i) {
        const GgufTensor& t = in.tensors()[i];
        if (types[i] == t.type || !quantize_requires_imatrix(types[i])) continue;
        if (importance_for(importance, t, options.imatrix)) continue;
        throw Error(std::string(type_name(types[i])) +
                    " cannot be made without an importance matrix (llama.cpp's quantizer needs one too): " +
                    (options.imatrix.empty() ? "none was given (--imatrix)" : options.imatrix + " has no values for " + t.name));
    }
}

int default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

FileType parse_file_type(std::string_view name_or_number) {
    const std::optional<FileType> ft = find_file_type(name_or_number);
    if (ft && ft->base) return *ft;
    if (ft) throw Error("type " + std::string(ft->name) + " is one of llama.cpp's, but natter does not make it; choose one of " + file_type_names());
    throw Error("unknown type '" + std::string(name_or_number) + "'; choose one of " + file_type_names() +
                " (or llama.cpp's number for it)");
}

std::string file_type_names() {
    std::string s;
    for (const FileType& ft : file_types()) {
        if (ft.base) s += (s.empty() ? "" : ", ") + std::string(ft.name);
    }
    return s;
}

QuantizeSummary quantize_model(const QuantizeOptions& options,
                               const std::function<void(const QuantizeProgress&)>& progress) {
    const auto start = std::chrono::steady_clock::now();
    std::error_code same_file_error;
    if (std::filesystem::equivalent(options.input, options.output, same_file_error)) {
        throw Error("the output file must differ from the input file");
    }
    GgufFile in = GgufFile::open(options.input);
    Imatrix imatrix;
    std::map<std::string, std::vector<float>> importance;
    if (!options.imatrix.empty()) {
        imatrix = read_imatrix(options.imatrix);
        importance = importance_weights(imatrix);
        for (const auto& [name, w] : importance) {
            for (const float v : w) {
                if (!std::isfinite(v)) throw Error(options.imatrix + ": the importance of " + name + " is not finite");
            }
        }
    }
    MixModel model = describe_model(in);
    model.has_imatrix = !importance.empty();
    const std::vector<GgmlType> types = choose_tensor_types(options.type, options.pure, model);
    check_imatrix_needed(options, in, types, importance);
    check_requantize(options, in, types);
    check_importance(options, in, types, importance);
    const int n_threads = options.n_threads > 0 ? options.n_threads : default_threads();

    GgufWriter out;
    out.set_alignment(in.alignment());
    for (const auto& [key, value] : in.metadata()) out.set(key, value);
    out.set("general.file_type", GgufValue{static_cast<uint32_t>(options.type.ftype)});
    out.set("general.quantization_version", GgufValue{static_cast<uint32_t>(2)});
    if (!importance.empty()) {
        // What llama.cpp's quantize records of the matrix (strings cut at 127 bytes, as there).
        out.set("quantize.imatrix.file", GgufValue{options.imatrix.substr(0, 127)});
        if (!imatrix.datasets.empty()) out.set("quantize.imatrix.dataset", GgufValue{imatrix.datasets[0].substr(0, 127)});
        out.set("quantize.imatrix.entries_count", GgufValue{static_cast<uint32_t>(importance.size())});
        if (imatrix.chunk_count > 0) {
            out.set("quantize.imatrix.chunks_count", GgufValue{static_cast<uint32_t>(imatrix.chunk_count)});
        }
    }

    QuantizeSummary summary;
    for (const GgufTensor& t : in.tensors()) summary.bytes_in += t.nbytes;
    const int count = static_cast<int>(in.tensors().size());
    std::vector<std::vector<uint8_t>> buffers(in.tensors().size());
    uint64_t done = 0;
    for (int i = 0; i < count; ++i) {
        const GgufTensor& t = in.tensors()[static_cast<size_t>(i)];
        const GgmlType type = types[static_cast<size_t>(i)];
        const auto report = [&](uint64_t bytes) {
            done += bytes;
            if (progress) progress({t.name, i, count, done, summary.bytes_in});
        };
        report(0);
        const uint8_t* data = t.data;
        size_t nbytes = t.nbytes;
        if (type == t.type) {
            ++summary.n_copied;  // written straight from the mapping
            report(t.nbytes);
        } else {
            ++summary.n_converted;
            const float* weights = importance_for(importance, t, options.imatrix);
            summary.n_with_imatrix += weights != nullptr;
            convert_tensor(t, type, weights, buffers[static_cast<size_t>(i)], n_threads, report);
            data = buffers[static_cast<size_t>(i)].data();
            nbytes = buffers[static_cast<size_t>(i)].size();
        }
        out.add_tensor(t.name, type, t.shape, data, nbytes);
        summary.bytes_out += nbytes;
        summary.n_weights += t.n_elements();
        ++summary.output_types[type];
    }
    if (progress && count > 0) progress({in.tensors().back().name, count, count, summary.bytes_in, summary.bytes_in});
    try {
        out.write(options.output);
    } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (the quantized model needs " + mib(summary.bytes_out) + ")");
    }
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

}  // namespace natter::tools
