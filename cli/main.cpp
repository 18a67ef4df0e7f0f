// natter: chat with quantized llama-family models on your own CPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
    CLI::App app{"natter: chat with quantized llama-family models on your own CPU", "natter"};
    app.set_version_flag("--version", "natter 0.1.0");
    app.require_subcommand(1);
    natter::cli::add_run_command(app);
    natter::cli::add_info_command(app);
    natter::cli::add_quantize_command(app);
    natter::cli::add_bench_command(app);
    natter::cli::add_perplexity_command(app);
    natter::cli::add_chat_command(app);
    // `natter` alone, or with only options (`natter -m model.gguf`), opens the chat.
    std::vector<char*> args(argv, argv + argc);
    static char chat[] = "chat";
    const std::string_view first = argc > 1 ? argv[1] : "";
    if (argc == 1 || (first.starts_with('-') && first != "-h" && first != "--help" && first != "--version")) {
        args.insert(args.begin() + 1, chat);
    }
    try {
        app.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const natter::Error& e) {
        std::fprintf(stderr, "natter: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "natter: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
