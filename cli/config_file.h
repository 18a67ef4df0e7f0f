#pragma once
// The config file: defaults for any command's long options, one [section] per command
//
//   [chat]
//   model = "gemma3-270m"
//   temp = 0.7
//   top_k = 20          # or top-k: underscores and dashes are the same, as on the command line
//   color = "never"
//
// read from --config FILE, else $XDG_CONFIG_HOME/natter/config.toml (or config.ini) when it
// exists. Flags on the command line win over it. CLI11 reads it (TOML or INI); a key that is
// no option of its command, or a file that cannot be read, is a usage error (exit 2).
#include <string>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace natter::cli {

// Sets `app` up to read the config file before its subcommands parse.
void use_config_file(CLI::App& app);
// The default file: config.toml, else config.ini, in paths::config_dir() (the .toml one when
// neither exists).
std::string default_config_file();
// Our sentence for an error CLI11 raised while reading the config file; empty when `e` is not one.
std::string config_error_message(const CLI::App& app, const CLI::ParseError& e);

}  // namespace natter::cli
