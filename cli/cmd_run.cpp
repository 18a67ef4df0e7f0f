// `natter run`: one-shot completion streamed to stdout, timings to stderr.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "core/paths.h"
#include "core/error.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/sampler.h"
#include "inference/tokenizer.h"
#include "openai/http_client.h"
#include "openai/protocol.h"
#include "session/remote_backend.h"

namespace natter::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Evaluates the prompt batch by batch; on a terminal, stderr shows how far it is.
std::span<const float> eval_prompt(Forward& fwd, const std::vector<int32_t>& tokens, int n_batch) {
    const bool show = ::isatty(STDERR_FILENO) != 0;
    const int n = static_cast<int>(tokens.size());
    std::span<const float> logits;
    for (int done = 0; done < n;) {
        if (show) std::fprintf(stderr, "\rnatter: prompt %d/%d tokens (%d%%)", done, n, done * 100 / n);
        const int len = std::min(n_batch, n - done);
        logits = fwd.eval(std::span<const int32_t>(tokens.data() + done, len), done);
        done += len;
    }
    if (show) std::fputs("\r\x1b[K", stderr);
    return logits;
}

bool ends_with_reverse_prompt(const std::string& text, const std::vector<std::string>& reverse_prompts) {
    for (const std::string& r : reverse_prompts) {
        if (!r.empty() && text.ends_with(r)) return true;
    }
    return false;
}

// --remote: the same completion from a server's /v1/completions, streamed as it comes.
void run_remote(const RunOptions& o, const std::string& prompt) {
    const RemoteOptions r = remote_options(o.remote);
    openai::HttpClient client(openai::Endpoint{r.url, r.api_key, r.timeout_seconds, 10});
    const auto start = Clock::now();
    const std::string model = find_remote_model(client, r.model).id;
    ChatSettings settings;
    settings.sampling = o.common.sampling;
    settings.max_tokens = o.common.n_predict;
    openai::RequestSampling sampling = request_sampling(settings);
    sampling.stop = o.reverse_prompts;
    if (o.show_prompt) std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
    openai::EventStream stream;
    std::string problem;
    Clock::time_point first{};
    const auto request_start = Clock::now();
    try {
        client.post_stream("/completions", openai::completion_request(model, prompt, sampling), [&](std::string_view bytes) {
            return stream.push(bytes, [&](const openai::StreamEvent& e) {
                if (!e.text.empty() && first == Clock::time_point{}) first = Clock::now();
                std::fwrite(e.text.data(), 1, e.text.size(), stdout);
                std::fflush(stdout);
                return true;
            });
        });
        problem = stream.problem();
    } catch (const openai::RemoteError& e) {
        problem = e.what();
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (problem.empty() && !stream.complete()) problem = "The stream from " + client.base_url() + " ended before the completion was complete";
    if (!problem.empty()) throw Error(problem + ".");
    const double total_ms = ms_since(request_start);
    const double gen_ms = first == Clock::time_point{} ? 0.0 : ms_since(first);
    const int n_prompt = stream.usage ? stream.usage->prompt_tokens : 0;
    const int n_gen = stream.usage ? stream.usage->completion_tokens : 0;
    std::fprintf(stderr, "\nnatter: %s at %s | setup %.0f ms | prompt %d tokens, first text after %.1f ms | generation %d tokens, %.1f ms (%.2f tokens/s)\n",
                 model.c_str(), client.base_url().c_str(), std::chrono::duration<double, std::milli>(request_start - start).count(),
                 n_prompt, total_ms - gen_ms, n_gen, gen_ms, gen_ms > 0 && n_gen > 1 ? (n_gen - 1) * 1000.0 / gen_ms : 0.0);
}

void run(const RunOptions& o) {
    const std::string prompt = o.prompt_file.empty() ? o.prompt : read_text_file(o.prompt_file, "prompt");
    if (!o.remote.url.empty()) return run_remote(o, prompt);
    const auto load_start = Clock::now();
    auto model = Model::load(paths::resolve_model_path(o.common.model));
    warn_if_beyond_training(o.common, model->hparams().n_ctx_train);
    const int n_ctx = o.common.n_ctx > 0 ? o.common.n_ctx : model->hparams().n_ctx_train;
    const Tokenizer& tok = model->tokenizer();
    std::vector<int32_t> tokens = tok.tokenize(prompt, !o.no_bos, o.parse_special);
    if (tokens.empty()) throw Error("the prompt is empty");
    if (static_cast<int>(tokens.size()) >= n_ctx) {
        throw Error("the prompt is " + std::to_string(tokens.size()) + " tokens long, which does not fit in the context of " +
                    std::to_string(n_ctx) + " tokens (raise -c)");
    }
    Forward fwd(*model, ForwardOptions{n_ctx, o.common.n_batch, threads_to_use(o.common.n_threads), o.common.flash_attn});
    Sampler sampler(o.common.sampling);
    const double load_ms = ms_since(load_start);

    const auto prompt_start = Clock::now();
    std::span<const float> logits = eval_prompt(fwd, tokens, o.common.n_batch);
    const double prompt_ms = ms_since(prompt_start);
    const int n_prompt = static_cast<int>(tokens.size());
    if (o.show_prompt) {
        std::fwrite(prompt.data(), 1, prompt.size(), stdout);
        std::fflush(stdout);
    }

    const int n_predict = o.common.n_predict;  // -1: until end of text or a full context
    Utf8Stream text;
    std::string generated;
    int n_gen = 0;
    const auto gen_start = Clock::now();
    while ((n_predict < 0 || n_gen < n_predict) && static_cast<int>(tokens.size()) < n_ctx) {
        const int32_t id = sampler.sample(logits, tokens);
        tokens.push_back(id);
        ++n_gen;
        if (!o.ignore_eos && tok.is_eog(id)) break;
        const std::string piece = text.push(tok.token_to_piece(id, false));
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        generated += piece;
        if (n_gen == n_predict || ends_with_reverse_prompt(generated, o.reverse_prompts)) break;
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

CLI::App* add_run_options(CLI::App& app, RunOptions& o) {
    CLI::App* cmd = app.add_subcommand("run", "Complete a prompt once and print the continuation");
    o.common.n_predict = 128;
    add_common_options(*cmd, o.common, "Tokens to generate (-1: until the end of the text or a full context)");
    auto* p = cmd->add_option("-p,--prompt", o.prompt, "Prompt text");
    auto* f = cmd->add_option("-f,--file", o.prompt_file, "Read the prompt from a file (-: standard input)")
                  ->check(CLI::ExistingFile | CLI::IsMember({"-"}));
    p->excludes(f);
    cmd->add_option("-r,--reverse-prompt", o.reverse_prompts, "Stop after this text (repeatable)");
    add_remote_options(*cmd, o.remote);
    cmd->add_flag("--ignore-eos", o.ignore_eos, "Keep generating past end-of-sequence tokens");
    cmd->add_flag("--no-bos", o.no_bos, "Do not add the beginning-of-sequence token");
    cmd->add_flag_callback("--no-display-prompt", [&o]() { o.show_prompt = false; }, "Print only the continuation, not the prompt");
    cmd->add_flag_callback("--no-special", [&o]() { o.parse_special = false; }, "Treat special-token text in the prompt as plain text");
    cmd->add_flag_callback("--color", []() { std::fputs("natter: --color has no effect: natter run prints plain text\n", stderr); },
                           "No effect: natter run prints plain text");
    return cmd;
}

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = add_run_options(app, *o);
    cmd->callback([o]() {
        if (o->prompt.empty() && o->prompt_file.empty()) throw Error("give a prompt with -p TEXT or -f FILE");
        run(*o);
    });
}

}  // namespace natter::cli
