// `natter perplexity -m model.gguf -f text.txt [-c 512] [-b 512] [-t N] [--chunks N]`
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "core/paths.h"
#include "tools/perplexity.h"
#include "core/error.h"
#include "inference/model.h"

namespace natter::cli {

using namespace natter::tools;

namespace {

struct Args {
    std::string model, text_file;
    PerplexityOptions options;
};

void run(const Args& a) {
    const auto model = Model::load(paths::resolve_model_path(a.model));
    const std::string text = read_text_file(a.text_file, "text");
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> tokens = perplexity_tokens(*model, text);
    std::fprintf(stderr, "perplexity: %s: %zu tokens (tokenized in %.0f ms)\n", a.text_file.c_str(), tokens.size(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const PerplexityOptions& o = a.options;
    const auto on_chunk = [&](const PerplexityChunk& c) {
        if (c.index == 1) {
            std::fprintf(stderr, "perplexity: %d chunks of %d tokens, batch %d; %.2f seconds per chunk, ETA %.1f minutes\n",
                         c.n_chunks, o.n_ctx, std::min(o.n_batch, o.n_ctx), c.seconds, c.seconds * (c.n_chunks - 1) / 60);
        }
        std::printf("[%d]%.4f,", c.index, c.ppl);
        std::fflush(stdout);
    };
    const PerplexityResult r = compute_perplexity(*model, tokens, o, on_chunk);
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    std::fprintf(stderr, "perplexity: %lld tokens scored in %d chunks, %.1f s (%.1f tokens/s)\n",
                 static_cast<long long>(r.n_scored), r.n_chunks, r.seconds,
                 static_cast<double>(r.n_chunks) * o.n_ctx / r.seconds);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
    auto a = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("perplexity", "Measure a model's perplexity on a text, as llama.cpp's perplexity does");
    cmd->add_option("-m,--model", a->model, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    cmd->add_option("-f,--file", a->text_file, "Text file to score (UTF-8)")->required();
    cmd->add_option("-c,--ctx-size", a->options.n_ctx, "Tokens per chunk; the second half of each is scored")
        ->capture_default_str()->check(CLI::Range(4, 1 << 20));
    cmd->add_option("-b,--batch-size", a->options.n_batch, "Tokens evaluated per batch (at most the chunk size)")
        ->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("-t,--threads", a->options.n_threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
    cmd->add_option("--chunks", a->options.n_chunks, "Score only the first N chunks (default: all)")->check(CLI::PositiveNumber);
    cmd->footer("Prints the running perplexity after each chunk, then the final estimate with its standard error.\n"
                "See natter-perplexity(1).");
    cmd->callback([a]() { run(*a); });
}

}  // namespace natter::cli
