// `natter run`: one-shot completion streamed to stdout, timings to stderr.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/sampling_options.h"
#include "core/paths.h"
#include "core/error.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/sampler.h"
#include "inference/tokenizer.h"

namespace natter::cli {

namespace {

struct RunOptions {
    std::string model;
    std::string prompt;
    std::string prompt_file;
    int n_predict = 128;
    int n_ctx = 2048;
    int n_batch = 512;
    int n_threads = 0;
    bool ignore_eos = false;
    bool no_bos = false;
    bool show_prompt = true;
    bool parse_special = true;
    SamplingParams sampling;
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read the prompt file " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void run(const RunOptions& o) {
    const std::string prompt = o.prompt_file.empty() ? o.prompt : read_file(o.prompt_file);
    const auto load_start = Clock::now();
    auto model = Model::load(paths::resolve_model_path(o.model));
    const Tokenizer& tok = model->tokenizer();
    std::vector<int32_t> tokens = tok.tokenize(prompt, !o.no_bos, o.parse_special);
    if (tokens.empty()) throw Error("the prompt is empty");
    if (static_cast<int>(tokens.size()) >= o.n_ctx) {
        throw Error("the prompt is " + std::to_string(tokens.size()) + " tokens long, which does not fit in the context of " +
                    std::to_string(o.n_ctx) + " tokens (raise -c)");
    }
    Forward fwd(*model, ForwardOptions{o.n_ctx, o.n_batch, o.n_threads});
    Sampler sampler(o.sampling);
    const double load_ms = ms_since(load_start);

    if (o.show_prompt) {
        std::fwrite(prompt.data(), 1, prompt.size(), stdout);
        std::fflush(stdout);
    }
    const auto prompt_start = Clock::now();
    std::span<const float> logits = fwd.eval(tokens, 0);
    const double prompt_ms = ms_since(prompt_start);
    const int n_prompt = static_cast<int>(tokens.size());

    Utf8Stream text;
    int n_gen = 0;
    const auto gen_start = Clock::now();
    while (n_gen < o.n_predict && static_cast<int>(tokens.size()) < o.n_ctx) {
        const int32_t id = sampler.sample(logits, tokens);
        tokens.push_back(id);
        ++n_gen;
        if (!o.ignore_eos && tok.is_eog(id)) break;
        const std::string piece = text.push(tok.token_to_piece(id, false));
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        if (n_gen == o.n_predict) break;
        logits = fwd.eval(std::span<const int32_t>(&tokens.back(), 1), static_cast<int>(tokens.size()) - 1);
    }
    const std::string rest = text.flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    const double gen_ms = ms_since(gen_start);

    std::fprintf(stderr, "\nnatter: load %.0f ms | prompt %d tokens, %.1f ms (%.2f tokens/s) | generation %d tokens, %.1f ms (%.2f tokens/s) | %d thread%s, seed %llu\n",
                 load_ms, n_prompt, prompt_ms, n_prompt * 1000.0 / prompt_ms, n_gen, gen_ms,
                 n_gen > 0 ? n_gen * 1000.0 / gen_ms : 0.0, fwd.n_threads(), fwd.n_threads() == 1 ? "" : "s",
                 static_cast<unsigned long long>(sampler.seed()));
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand("run", "Complete a prompt once and print the continuation");
    cmd->add_option("-m,--model", o->model, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    auto* p = cmd->add_option("-p,--prompt", o->prompt, "Prompt text");
    auto* f = cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file")->check(CLI::ExistingFile);
    p->excludes(f);
    cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate")->capture_default_str()->check(CLI::Range(0, 1 << 24));
    cmd->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("-b,--batch-size", o->n_batch, "Prompt tokens evaluated per batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
    add_sampling_options(*cmd, o->sampling);
    cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-sequence tokens");
    cmd->add_flag("--no-bos", o->no_bos, "Do not add the beginning-of-sequence token");
    cmd->add_flag_callback("--no-display-prompt", [o]() { o->show_prompt = false; }, "Print only the continuation, not the prompt");
    cmd->add_flag_callback("--no-special", [o]() { o->parse_special = false; }, "Treat special-token text in the prompt as plain text");
    cmd->callback([o]() {
        if (o->prompt.empty() && o->prompt_file.empty()) throw Error("give a prompt with -p TEXT or -f FILE");
        run(*o);
    });
}

}  // namespace natter::cli
