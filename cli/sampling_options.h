#pragma once
// The sampling flags shared by the generating subcommands (llama.cpp's spellings, with the
// underscore aliases it accepts).
namespace CLI {
class App;
}

namespace natter {
struct SamplingParams;
}

namespace natter::cli {

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --frequency-penalty,
// --presence-penalty and -s/--seed, writing into `params` (whose values are the defaults shown).
void add_sampling_options(CLI::App& cmd, SamplingParams& params);

}  // namespace natter::cli
