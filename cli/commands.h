#pragma once
// Each subcommand of `natter` lives in its own cmd_*.cpp and registers itself here.
namespace CLI {
class App;
}

namespace natter::cli {

void add_run_command(CLI::App& app);   // one-shot completion
void add_info_command(CLI::App& app);  // GGUF inspector
void add_quantize_command(CLI::App& app);  // GGUF -> quantized GGUF
void add_bench_command(CLI::App& app);  // pp/tg speed, like llama-bench
void add_perplexity_command(CLI::App& app);  // perplexity of a model on a text
void add_chat_command(CLI::App& app);  // conversation: full screen or line mode

}  // namespace natter::cli
