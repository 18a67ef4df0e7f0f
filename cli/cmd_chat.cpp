// `natter chat`: a conversation with a model. On a terminal it opens the full-screen chat
// (ui/); otherwise, or with --line, the plain line-mode chat reads messages from stdin.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "linechat/line_chat.h"
#include "cli/sampling_options.h"
#include "session/session.h"
#include "core/error.h"
#include "ui/tui.h"

namespace natter::cli {

namespace {

struct ChatOptions {
    SessionOptions session;
    std::string system;
    std::string system_file;
    std::string load;
    bool line_mode = false;
    bool verbose = false;
    ui::TuiOptions screen;
};

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("Cannot read the prompt file " + path + ".");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

int run_chat(ChatOptions& o) {
    if (!o.system_file.empty()) o.session.system_prompt = read_text_file(o.system_file);
    if (!o.system.empty()) o.session.system_prompt = o.system;
    Session session(o.session);
    if (!o.load.empty()) session.load(o.load);
    const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
    if (terminal && !o.line_mode) return ui::run_tui(session, o.screen);
    LineChatOptions line;
    line.show_prompt_marker = ::isatty(STDIN_FILENO) != 0;
    line.verbose = o.verbose;
    line.handle_sigint = true;
    return run_line_chat(session, std::cin, std::cout, std::cerr, line);
}

}  // namespace

void add_chat_command(CLI::App& app) {
    auto o = std::make_shared<ChatOptions>();
    SessionOptions& s = o->session;
    CLI::App* cmd = app.add_subcommand("chat", "Chat with a model (full screen on a terminal, line mode otherwise)");
    cmd->add_option("-m,--model", s.model_path, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    cmd->add_option("-c,--ctx-size", s.n_ctx, "Context size in tokens (0: the model's training context)")->capture_default_str()->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-n,--n-predict", s.settings.max_tokens, "Longest reply in tokens (-1: no limit)")->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    cmd->add_option("-b,--batch-size", s.n_batch, "Prompt tokens evaluated per batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd->add_option("-t,--threads", s.n_threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
    add_sampling_options(*cmd, s.settings.sampling);
    cmd->add_option("--template", s.template_name, "Chat template (default: detected from the model, else chatml)");
    auto* sys = cmd->add_option("--system", o->system, "System prompt");
    auto* file = cmd->add_option("-f,--file", o->system_file, "Read the system prompt / prelude from a file")->check(CLI::ExistingFile);
    sys->excludes(file);
    cmd->add_option("-r,--reverse-prompt", s.reverse_prompts, "Stop the reply after this text (repeatable)");
    cmd->add_option("--keep", s.keep, "Tokens at the start never dropped when the context fills (-1: the first exchange)")->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    cmd->add_option("--load", o->load, "Continue a saved chat (JSON transcript)")->check(CLI::ExistingFile);
    cmd->add_flag("--line", o->line_mode, "Use the line-mode chat even on a terminal");
    cmd->add_flag("-v,--verbose", o->verbose, "Line mode: token counts and speed of each reply on stderr");
    const std::map<std::string, ui::ColorMode> colors{
        {"auto", ui::ColorMode::Auto}, {"always", ui::ColorMode::Always}, {"never", ui::ColorMode::Never}};
    cmd->add_option("--color", o->screen.color, "Colours on the chat screen: auto (unless NO_COLOR is set), always or never")
        ->transform(CLI::CheckedTransformer(colors, CLI::ignore_case))
        ->default_str("auto");
    cmd->callback([o]() {
        const int code = run_chat(*o);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace natter::cli
