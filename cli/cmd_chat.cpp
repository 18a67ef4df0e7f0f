// `natter chat`: a conversation with a model. On a terminal it opens the full-screen chat
// (ui/); otherwise, or with --line, the plain line-mode chat reads messages from stdin.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/paths.h"
#include "inference/model.h"
#include "linechat/line_chat.h"
#include "session/session.h"
#include "session/session_store.h"
#include "ui/tui.h"

namespace natter::cli {

namespace {

ui::ColorMode color_mode(const std::string& name) {
    if (name == "always") return ui::ColorMode::Always;
    if (name == "never") return ui::ColorMode::Never;
    return ui::ColorMode::Auto;
}

// The transcript --load, --continue or --resume names ("" for a new chat), found before the
// model loads so that a wrong name fails at once.
std::filesystem::path chat_to_load(const ChatOptions& o) {
    if (!o.load.empty()) return o.load;
    const SessionStore store(o.session.autosave_dir);
    if (!o.resume.empty()) return store.find(o.resume);
    if (!o.continue_last) return {};
    const std::filesystem::path latest = store.latest();
    if (latest.empty()) throw Error("There is no saved chat in " + store.dir().string() + " to continue.");
    return latest;
}

int run_chat(const ChatOptions& o) {
    const std::filesystem::path saved = chat_to_load(o);
    SessionOptions options = session_options(o);
    options.n_threads = threads_to_use(options.n_threads);
    std::shared_ptr<const Model> model;
    if (options.remote.url.empty()) {
        model = Model::load(paths::resolve_model_path(options.model_path));
        warn_if_beyond_training(o.common, model->hparams().n_ctx_train);
    }
    Session session(model, options);
    if (session.is_remote()) std::cerr << "natter: " << session.model_name() << " at " << session.model_path() << "\n";
    if (!saved.empty()) session.load(saved);
    const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
    if (terminal && !o.line_mode) return ui::run_tui(session, ui::TuiOptions{color_mode(o.color)});
    LineChatOptions line;
    line.show_prompt_marker = ::isatty(STDIN_FILENO) != 0;
    // Piped input is a script's one-shot chat: it leaves no file unless --save asks for one.
    line.autosave = o.save || ::isatty(STDIN_FILENO);
    if (!saved.empty()) {
        std::cerr << "natter: continuing " << saved.string() << " (" << session.messages().size() << " messages)\n";
    }
    line.verbose = o.verbose;
    line.handle_sigint = true;
    return run_line_chat(session, std::cin, std::cout, std::cerr, line);
}

}  // namespace

SessionOptions session_options(const ChatOptions& o) {
    SessionOptions s = o.session;
    s.model_path = o.common.model;
    s.n_ctx = o.common.n_ctx;
    s.n_batch = o.common.n_batch;
    s.n_threads = o.common.n_threads;
    s.flash_attn = o.common.flash_attn;
    s.settings.sampling = o.common.sampling;
    s.settings.max_tokens = o.common.n_predict;
    if (o.instruct) s.template_name = "alpaca";
    if (!o.system_file.empty()) s.system_prompt = read_text_file(o.system_file, "prompt");
    if (!o.system.empty()) s.system_prompt = o.system;
    s.remote = remote_options(o.remote);
    return s;
}

CLI::App* add_chat_options(CLI::App& app, ChatOptions& o) {
    SessionOptions& s = o.session;
    CLI::App* cmd = app.add_subcommand("chat", "Chat with a model (full screen on a terminal, line mode otherwise)");
    add_common_options(*cmd, o.common, "Longest reply in tokens (-1: no limit)");
    auto* tmpl = cmd->add_option("--template", s.template_name, "Chat template (default: detected from the model, else chatml)");
    cmd->add_flag("--instruct", o.instruct, "-ins: instruction mode, the alpaca template")->excludes(tmpl);
    auto* sys = cmd->add_option("--system,--system-prompt", o.system, "System prompt (also -sys)");
    auto* file = cmd->add_option("-f,--file", o.system_file, "Read the system prompt / prelude from a file")->check(CLI::ExistingFile);
    sys->excludes(file);
    cmd->add_option("-r,--reverse-prompt", s.reverse_prompts, "Stop the reply after this text and hand the turn back (repeatable)");
    cmd->add_option("--in-prefix", s.in_prefix, "Text put before each of your messages in the prompt");
    cmd->add_option("--in-suffix", s.in_suffix, "Text put after each of your messages in the prompt");
    cmd->add_option("--keep", s.keep, "Tokens at the start never dropped when the context fills (-1: the first exchange)")->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    auto* load = cmd->add_option("--load", o.load, "Continue a saved chat (JSON transcript)")->check(CLI::ExistingFile);
    auto* cont = cmd->add_flag("--continue", o.continue_last, "Continue the most recent chat in the sessions folder");
    auto* resume = cmd->add_option("--resume", o.resume,
                                   "Continue a saved chat: NAME (or a unique prefix) in the sessions folder, or a PATH");
    load->excludes(cont)->excludes(resume);
    cont->excludes(resume);
    add_remote_options(*cmd, o.remote);
    cmd->add_flag("--save", o.save, "Line mode: autosave the chat even when stdin is not a terminal");
    cmd->add_flag("--line", o.line_mode, "Use the line-mode chat even on a terminal");
    cmd->add_flag("-v,--verbose", o.verbose, "Line mode: token counts and speed of each reply on stderr");
    cmd->add_flag("--color{always},--colour{always}", o.color,
                  "Colours on the chat screen: --color alone (or -co) always, --color=auto (the default: unless NO_COLOR is set) or --color=never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    // llama.cpp's names for what the chat is anyway: accepted silently.
    const std::string same = "llama.cpp's names for what the chat does anyway";
    for (const char* names : {"-i,--interactive", "--interactive-first", "--conversation", "--multiline-input"}) {
        cmd->add_flag(names)->description("The chat is interactive (also -cnv, -mli)")->group(same);
    }
    return cmd;
}

CLI::App* add_chat_command(CLI::App& app) {
    auto o = std::make_shared<ChatOptions>();
    CLI::App* cmd = add_chat_options(app, *o);
    cmd->callback([o]() {
        const int code = run_chat(*o);
        if (code != 0) throw CLI::RuntimeError(code);
    });
    return cmd;
}

}  // namespace natter::cli
