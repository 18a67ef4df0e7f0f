// natter: chat with quantized llama-family models on your own CPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
    CLI::App app{"natter: chat with quantized llama-family models on your own CPU", "natter"};
    app.set_version_flag("--version", "natter 0.1.0");
    app.require_subcommand(1);
    natter::app::add_run_command(app);
    natter::app::add_info_command(app);
    natter::app::add_quantize_command(app);
    try {
        app.parse(argc, argv);
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
