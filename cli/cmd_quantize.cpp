// `natter quantize [options] in.gguf out.gguf TYPE`
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "tools/quantize.h"
#include "core/error.h"

namespace natter::cli {

using namespace natter::tools;

namespace {

struct QuantizeArgs {
    std::string input, output, type, imatrix;
    bool pure = false, allow_requantize = false, quiet = false, progress = false;
    int n_threads = 0;
};

// "3.2x smaller", "1.9x larger" or "the same size".
std::string size_change(uint64_t in, uint64_t out) {
    if (in == out) return "the same size";
    const double ratio = in > out ? static_cast<double>(in) / static_cast<double>(std::max<uint64_t>(1, out))
                                  : static_cast<double>(out) / static_cast<double>(std::max<uint64_t>(1, in));
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1fx %s", ratio, in > out ? "smaller" : "larger");
    return buf;
}

void print_summary(const QuantizeArgs& a, const FileType& type, const QuantizeSummary& s) {
    const auto bpw = [&](uint64_t bytes) { return 8.0 * static_cast<double>(bytes) / static_cast<double>(std::max<int64_t>(1, s.n_weights)); };
    std::printf("%s: %s (general.file_type %d)\n", a.output.c_str(), std::string(type.name).c_str(), type.ftype);
    std::printf("  size     %.2f MiB -> %.2f MiB, %.2f -> %.2f bits per weight (%s)\n",
                static_cast<double>(s.bytes_in) / (1 << 20), static_cast<double>(s.bytes_out) / (1 << 20),
                bpw(s.bytes_in), bpw(s.bytes_out), size_change(s.bytes_in, s.bytes_out).c_str());
    std::string types;
    for (const auto& [t, n] : s.output_types) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(type_name(t));
    std::printf("  tensors  %d converted, %d copied; %s\n", s.n_converted, s.n_copied, types.c_str());
    if (!a.imatrix.empty()) std::printf("  imatrix  %s: %d tensors weighted by it\n", a.imatrix.c_str(), s.n_with_imatrix);
    std::printf("  time     %.1f s\n", s.seconds);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
    auto a = std::make_shared<QuantizeArgs>();
    CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF model to another type");
    cmd->add_option("input", a->input, "Source GGUF (F32, F16 or BF16; quantized with --allow-requantize)")->required();
    cmd->add_option("output", a->output, "GGUF file to write")->required();
    cmd->add_option("type", a->type, "Target type: " + file_type_names() + " (or llama.cpp's number for it)")->required();
    cmd->add_flag("--pure", a->pure, "Give every weight matrix the target type (no per-tensor mixes)");
    cmd->add_flag("--allow-requantize", a->allow_requantize, "Accept an already-quantized input");
    cmd->add_option("--imatrix", a->imatrix, "Importance matrix (natter imatrix's or llama-imatrix's, GGUF or .dat) "
                    "to weight each column's rounding error by");
    cmd->add_option("-t,--threads", a->n_threads, "Threads (default: all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--progress", a->progress, "Show the progress bar even when stderr is not a terminal");
    cmd->add_flag("-q,--quiet", a->quiet, "No progress bar and no summary");
    cmd->footer("Types with _S/_M/_L and the IQ types choose per-tensor types as llama.cpp's quantize does; "
                "IQ1_*, IQ2_*, IQ3_XXS and Q2_K_S need --imatrix where llama.cpp's does. See natter-quantize(1).");
    cmd->callback([a]() {
        const FileType type = parse_file_type(a->type);
        QuantizeOptions o{a->input, a->output, type, a->pure, a->allow_requantize, a->n_threads, a->imatrix};
        const bool tty = isatty(STDERR_FILENO) != 0;
        std::function<void(const QuantizeProgress&)> progress;
        if (!a->quiet && (tty || a->progress)) {
            progress = [bar = std::make_shared<ProgressBar>(tty)](const QuantizeProgress& p) {
                bar->update(p.tensor, p.index, p.count, p.bytes_done, p.bytes_total);
            };
        }
        const QuantizeSummary s = quantize_model(o, progress);
        if (!a->quiet) print_summary(*a, type, s);
    });
}

}  // namespace natter::cli
