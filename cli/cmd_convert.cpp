// `natter convert DIR out.gguf [--outtype f32|f16|bf16|q8_0]`: a Hugging Face checkpoint
// (safetensors) to GGUF, as llama.cpp's convert_hf_to_gguf.py writes it.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "core/error.h"
#include "tools/convert.h"

namespace natter::cli {

using namespace natter::tools;

namespace {

struct ConvertArgs {
    std::string input, output, outtype = "f16";
    bool quiet = false, progress = false;
};

void print_summary(const ConvertArgs& a, const ConvertSummary& s) {
    std::printf("%s: %s (%s), %s, vocabulary %s\n", a.output.c_str(), s.architecture.c_str(), s.hf_architecture.c_str(),
                a.outtype.c_str(), s.vocabulary.c_str());
    std::string types;
    int n = 0;
    for (const auto& [t, count] : s.output_types) {
        types += (types.empty() ? "" : ", ") + std::to_string(count) + " " + std::string(type_name(t));
        n += count;
    }
    std::printf("  tensors  %d (%s), %lld parameters\n", n, types.c_str(), static_cast<long long>(s.n_params));
    std::printf("  size     %.2f MiB of safetensors -> %.2f MiB\n", static_cast<double>(s.bytes_in) / (1 << 20),
                static_cast<double>(s.bytes_out) / (1 << 20));
    std::printf("  time     %.1f s\n", s.seconds);
}

}  // namespace

void add_convert_command(CLI::App& app) {
    auto a = std::make_shared<ConvertArgs>();
    CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint (safetensors) to GGUF");
    cmd->add_option("input", a->input, "Checkpoint folder: config.json, model.safetensors (or shards and their index), tokenizer files")
        ->required();
    cmd->add_option("output", a->output, "GGUF file to write")->required();
    cmd->add_option("--outtype", a->outtype, "Type of the weight matrices: f32, f16, bf16 or q8_0 (default f16)");
    cmd->add_flag("--progress", a->progress, "Show the progress bar even when stderr is not a terminal");
    cmd->add_flag("-q,--quiet", a->quiet, "No progress bar and no summary");
    cmd->footer("Norms and biases stay F32, as llama.cpp's converter keeps them. Then: natter quantize. See natter-convert(1).");
    cmd->callback([a]() {
        const std::optional<OutType> type = parse_outtype(a->outtype);
        if (!type) throw Error("unknown --outtype '" + a->outtype + "'; choose f32, f16, bf16 or q8_0");
        const bool tty = isatty(STDERR_FILENO) != 0;
        std::function<void(const ConvertProgress&)> progress;
        if (!a->quiet && (tty || a->progress)) {
            progress = [bar = std::make_shared<ProgressBar>(tty)](const ConvertProgress& p) {
                bar->update(p.tensor, p.index, p.count, p.bytes_done, p.bytes_total);
            };
        }
        const ConvertSummary s = convert_checkpoint({a->input, a->output, *type}, progress);
        if (!a->quiet) print_summary(*a, s);
    });
}

}  // namespace natter::cli
