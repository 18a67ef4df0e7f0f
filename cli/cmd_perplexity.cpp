// `natter perplexity -m model.gguf -f text.txt [-c 512] [-b 512] [-t N] [--chunks N]
//  [--kl-divergence-base FILE [--kl-divergence]]`
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "core/paths.h"
#include "tools/kl_divergence.h"
#include "tools/perplexity.h"
#include "core/error.h"
#include "inference/model.h"

namespace natter::cli {

using namespace natter::tools;

namespace {

struct PerplexityArgs {
    std::string model, text_file, kld_base;
    bool kl_divergence = false;
    PerplexityOptions options;
};

void print_percentiles(const char* name, const KldPercentiles& p, double scale, const char* format, bool quartiles) {
    const auto line = [&](const char* label, double v) {
        std::printf("%s %s", label, name);
        std::printf(format, scale * v);
        std::printf("\n");
    };
    line("Maximum", p.max);
    line("99.9%  ", p.p99_9);
    line("99.0%  ", p.p99);
    line("95.0%  ", p.p95);
    line("90.0%  ", p.p90);
    if (quartiles) line("75.0%  ", p.p75);
    line("Median ", p.median);
    if (quartiles) line("25.0%  ", p.p25);
    line("10.0%  ", p.p10);
    line(" 5.0%  ", p.p5);
    line(" 1.0%  ", p.p1);
    line(" 0.1%  ", p.p0_1);
    line("Minimum", p.min);
}

// llama-perplexity --kl-divergence's report, line for line.
void run_kl_divergence(const PerplexityArgs& a, const Model& model) {
    std::printf("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              "
                "\u0394p RMS            Same top p\n");
    const auto on_chunk = [](const KldChunk& c) {
        std::printf("%4d    %9.4f \u00b1 %9.4f    %10.5f \u00b1 %10.5f    %10.5f \u00b1 %10.5f    %6.3f \u00b1 %6.3f %%    "
                    "%6.3f \u00b1 %6.3f %%\n", c.index, c.ppl.value, c.ppl.error, c.ln_ppl_ratio.value,
                    c.ln_ppl_ratio.error, c.kld.value, c.kld.error, 100 * c.rms_dp.value, 100 * c.rms_dp.error,
                    100 * c.same_top.value, 100 * c.same_top.error);
        std::fflush(stdout);
    };
    const KldResult r = compute_kl_divergence(model, a.kld_base, a.options, on_chunk);
    if (r.count < 100) return;  // llama.cpp gives no statistics on so few values
    std::printf("\n====== Perplexity statistics ======\n");
    std::printf("Mean PPL(Q)                   : %10.6f \u00b1 %10.6f\n", r.ppl.value, r.ppl.error);
    std::printf("Mean PPL(base)                : %10.6f \u00b1 %10.6f\n", r.ppl_base.value, r.ppl_base.error);
    std::printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * r.ppl_correlation);
    std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f \u00b1 %10.6f\n", r.ln_ppl_ratio.value, r.ln_ppl_ratio.error);
    std::printf("Mean PPL(Q)/PPL(base)         : %10.6f \u00b1 %10.6f\n", r.ppl_ratio.value, r.ppl_ratio.error);
    std::printf("Mean PPL(Q)-PPL(base)         : %10.6f \u00b1 %10.6f\n", r.ppl_diff.value, r.ppl_diff.error);
    std::printf("\n====== KL divergence statistics ======\n");
    std::printf("Mean    KLD: %10.6f \u00b1 %10.6f\n", r.kld.value, r.kld.error);
    print_percentiles("KLD:", r.kld_at, 1, " %10.6f", false);
    std::printf("\n====== Token probability statistics ======\n");
    std::printf("Mean    \u0394p: %6.3f \u00b1 %5.3f %%\n", 100 * r.dp.value, 100 * r.dp.error);
    print_percentiles("\u0394p:", r.dp_at, 100, " %6.3f%%", true);
    std::printf("RMS \u0394p    : %6.3f \u00b1 %5.3f %%\n", 100 * r.rms_dp.value, 100 * r.rms_dp.error);
    std::printf("Same top p: %6.3f \u00b1 %5.3f %%\n", 100 * r.same_top.value, 100 * r.same_top.error);
}

void run_perplexity(const PerplexityArgs& a) {
    const auto model = Model::load(paths::resolve_model_path(a.model));
    if (a.kl_divergence) {
        if (a.kld_base.empty()) throw Error("--kl-divergence compares with a base file: give it with --kl-divergence-base FILE");
        return run_kl_divergence(a, *model);
    }
    if (a.text_file.empty()) throw Error("perplexity needs the text to score: -f FILE");
    const std::string text = read_text_file(a.text_file, "text");
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> tokens = perplexity_tokens(*model, text);
    std::fprintf(stderr, "perplexity: %s: %zu tokens (tokenized in %.0f ms)\n", a.text_file.c_str(), tokens.size(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const PerplexityOptions& o = a.options;
    const auto on_chunk = [&](const PerplexityChunk& c) {
        if (c.index == 1) {
            std::fprintf(stderr, "perplexity: %d chunks of %d tokens, batch %d, flash attention %s; %.2f seconds per chunk, "
                         "ETA %.1f minutes\n", c.n_chunks, o.n_ctx, std::min(o.n_batch, o.n_ctx), o.flash_attn ? "on" : "off",
                         c.seconds, c.seconds * (c.n_chunks - 1) / 60);
        }
        std::printf("[%d]%.4f,", c.index, c.ppl);
        std::fflush(stdout);
    };
    const PerplexityResult r = a.kld_base.empty() ? compute_perplexity(*model, tokens, o, on_chunk)
                                                  : perplexity_with_kld_base(*model, tokens, o, on_chunk, a.kld_base);
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    std::fprintf(stderr, "perplexity: %lld tokens scored in %d chunks, %.1f s (%.1f tokens/s)\n",
                 static_cast<long long>(r.n_scored), r.n_chunks, r.seconds,
                 static_cast<double>(r.n_chunks) * o.n_ctx / r.seconds);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
    auto a = std::make_shared<PerplexityArgs>();
    CLI::App* cmd = app.add_subcommand("perplexity", "Measure a model's perplexity on a text, as llama.cpp's perplexity does");
    cmd->add_option("-m,--model", a->model, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    cmd->add_option("-f,--file", a->text_file, "Text file to score (UTF-8; not with --kl-divergence)");
    cmd->add_option("-c,--ctx-size", a->options.n_ctx, "Tokens per chunk; the second half of each is scored")
        ->capture_default_str()->check(CLI::Range(4, 1 << 20));
    cmd->add_option("-b,--batch-size", a->options.n_batch, "Tokens evaluated per batch (at most the chunk size)")
        ->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("-t,--threads", a->options.n_threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
    add_flash_attn_option(*cmd, a->options.flash_attn);
    add_batch_order_option(*cmd);
    cmd->add_option("--chunks", a->options.n_chunks, "Score only the first N chunks (default: all)")->check(CLI::PositiveNumber);
    cmd->add_option("--kl-divergence-base", a->kld_base, "Save the model's log-probabilities to FILE (llama.cpp's format), "
                    "or with --kl-divergence compare with them");
    cmd->add_flag("--kl-divergence", a->kl_divergence, "Compare with --kl-divergence-base's file (its text and chunks): "
                  "PPL ratio, KL divergence, \u0394p, same top token");
    cmd->footer("Prints the running perplexity after each chunk, then the final estimate with its standard error.\n"
                "See natter-perplexity(1).");
    cmd->callback([a]() { run_perplexity(*a); });
}

}  // namespace natter::cli
