#pragma once
// Each subcommand of `natter` lives in its own cmd_*.cpp and registers itself here.
namespace CLI {
class App;
}

namespace natter::app {

void add_run_command(CLI::App& app);   // one-shot completion
void add_info_command(CLI::App& app);  // GGUF inspector
void add_quantize_command(CLI::App& app);  // GGUF -> quantized GGUF

}  // namespace natter::app
