// natter: chat with quantized llama-family models on your own CPU.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "core/error.h"

int main(int argc, char** argv) {
    CLI::App app{"natter: chat with quantized llama-family models on your own CPU", "natter"};
    app.set_version_flag("--version", "natter 0.1.0");
    app.require_subcommand(1);
    natter::cli::use_config_file(app);
    natter::cli::add_run_command(app);
    natter::cli::add_info_command(app);
    natter::cli::add_quantize_command(app);
    natter::cli::add_convert_command(app);
    natter::cli::add_bench_command(app);
    natter::cli::add_perplexity_command(app);
    natter::cli::add_imatrix_command(app);
    natter::cli::add_sessions_command(app);
    natter::cli::add_serve_command(app);
    natter::cli::add_models_command(app);
    natter::cli::add_pull_command(app);
    CLI::App* chat = natter::cli::add_chat_command(app);
    // chat is the default command, so its options are natter's too.
    app.footer([chat]() {
        return "\n`natter [OPTIONS]` is `natter chat [OPTIONS]`; the chat's options:\n\n" +
               chat->help("natter chat", CLI::AppFormatMode::Sub);
    });
    std::vector<std::string> args = natter::cli::llama_args(std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
    natter::cli::hide_secret_arguments(argc, argv);  // the copy above keeps it; `ps` no longer shows it
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    try {
        app.parse(args);
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();  // a command's own failure, already reported
    } catch (const CLI::ParseError& e) {
        if (const std::string config = natter::cli::config_error_message(app, e); !config.empty()) {
            std::fprintf(stderr, "natter: error: %s\n", config.c_str());
            return 2;
        }
        // --help and --version exit 0; a usage error exits 2, as the man pages say.
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const natter::Error& e) {
        std::fprintf(stderr, "natter: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "natter: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
