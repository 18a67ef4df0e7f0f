// `natter imatrix -m model.gguf -f text.txt [-o imatrix.gguf] [-c 512] [-b N] [--chunks N]
//  [--output-format gguf|dat] [--process-output] [-t N] [-fa on|off|auto]`
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "core/paths.h"
#include "inference/model.h"
#include "tools/imatrix.h"

namespace natter::cli {

using namespace natter::tools;

namespace {

struct ImatrixArgs {
    std::string model, text_file, output = "imatrix.gguf", format;
    ImatrixOptions options;
};

void run_imatrix(const ImatrixArgs& a) {
    ImatrixFormat format = ImatrixFormat::Gguf;
    if (a.format == "dat") format = ImatrixFormat::Dat;
    else if (!a.format.empty() && a.format != "gguf") throw Error("--output-format is gguf or dat, not '" + a.format + "'");
    const auto model = Model::load(paths::resolve_model_path(a.model));
    const std::string text = read_text_file(a.text_file, "text");
    const std::vector<int32_t> tokens = perplexity_tokens(*model, text);
    ImatrixOptions o = a.options;
    o.eval.n_threads = threads_to_use(o.eval.n_threads);
    o.dataset = a.text_file;
    std::fprintf(stderr, "imatrix: %s: %zu tokens (flash attention %s)\n", a.text_file.c_str(), tokens.size(),
                 o.eval.flash_attn ? "on" : "off");
    const auto start = std::chrono::steady_clock::now();
    const auto on_chunk = [&](const PerplexityChunk& c) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "\rimatrix: chunk %d/%d, %.2f s per chunk, ETA %.1f min ", c.index, c.n_chunks,
                     elapsed / c.index, elapsed / c.index * (c.n_chunks - c.index) / 60);
        std::fflush(stderr);
        std::printf("[%d]%.4f,", c.index, c.ppl);
        std::fflush(stdout);
    };
    const Imatrix m = compute_imatrix(*model, tokens, o, on_chunk);
    write_imatrix(m, a.output, format);
    std::fprintf(stderr, "\n");
    std::printf("\n%s: %zu weights' importance over %d chunks of %d tokens (%s)\n", a.output.c_str(), m.entries.size(),
                m.chunk_count, m.chunk_size, format == ImatrixFormat::Dat ? "legacy .dat" : "GGUF");
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
    auto a = std::make_shared<ImatrixArgs>();
    CLI::App* cmd = app.add_subcommand("imatrix", "Compute an importance matrix for quantizing, as llama.cpp's imatrix does");
    cmd->add_option("-m,--model", a->model, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    cmd->add_option("-f,--file", a->text_file, "Text to evaluate (UTF-8; at least two chunks of tokens)")->required();
    cmd->add_option("-o,--output", a->output, "File to write")->capture_default_str();
    cmd->add_option("--output-format", a->format, "gguf (llama.cpp's current format, the default) or dat (the legacy one)");
    cmd->add_option("-c,--ctx-size", a->options.eval.n_ctx, "Tokens per chunk, each evaluated from an empty cache")
        ->capture_default_str()->check(CLI::Range(4, 1 << 20));
    cmd->add_option("-b,--batch-size", a->options.eval.n_batch, "Tokens evaluated per batch (at most the chunk size; "
                    "batches under 16 tokens are not collected)")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--chunks", a->options.eval.n_chunks, "Evaluate only the first N chunks (default: all)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--process-output", a->options.process_output, "Collect output.weight too");
    cmd->add_option("-t,--threads", a->options.eval.n_threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
    add_flash_attn_option(*cmd, a->options.eval.flash_attn);
    cmd->footer("Prints the running perplexity after each chunk and the progress on stderr.\n"
                "The file is what `natter quantize --imatrix` and llama.cpp's llama-quantize read. See natter-imatrix(1).");
    cmd->callback([a]() { run_imatrix(*a); });
}

}  // namespace natter::cli
