// `natter quantize in.gguf out.gguf TYPE`
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/commands.h"
#include "app/quantize.h"
#include "core/error.h"

namespace natter::app {

namespace {

struct Args {
    std::string input, output, type;
    bool pure = false, allow_requantize = false, quiet = false;
    int n_threads = 0;
};

void print_progress(const QuantizeProgress& p) {
    const double pct = p.bytes_total ? 100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 100.0;
    std::fprintf(stderr, "\r[%3d/%3d] %5.1f%% %-40.40s", p.index, p.count, pct, std::string(p.tensor).c_str());
    if (p.index == p.count) std::fputc('\n', stderr);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
    auto a = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF model to another type");
    cmd->add_option("input", a->input, "Source GGUF (F32, F16 or BF16; quantized with --allow-requantize)")->required()->check(CLI::ExistingFile);
    cmd->add_option("output", a->output, "GGUF file to write")->required();
    cmd->add_option("type", a->type, "Target type: " + file_type_names() + " (or llama.cpp's number)")->required();
    cmd->add_flag("--pure", a->pure, "Give every weight matrix the target type (no per-tensor mixes)");
    cmd->add_flag("--allow-requantize", a->allow_requantize, "Accept an already-quantized input");
    cmd->add_option("-t,--threads", a->n_threads, "Threads (default: all cores)");
    cmd->add_flag("-q,--quiet", a->quiet, "No progress output");
    cmd->callback([a]() {
        const auto type = find_file_type(a->type);
        if (!type) throw Error("unknown type '" + a->type + "'; choose one of " + file_type_names());
        QuantizeOptions o{a->input, a->output, *type, a->pure, a->allow_requantize, a->n_threads};
        const QuantizeSummary s = quantize_model(o, a->quiet ? nullptr : print_progress);
        if (!a->quiet) {
            std::fprintf(stderr, "%s: %.1f MiB -> %.1f MiB, %.2f bits per weight, %.1f s\n", a->output.c_str(),
                         static_cast<double>(s.bytes_in) / (1 << 20), static_cast<double>(s.bytes_out) / (1 << 20),
                         8.0 * static_cast<double>(s.bytes_out) / static_cast<double>(s.n_weights), s.seconds);
        }
    });
}

}  // namespace natter::app
