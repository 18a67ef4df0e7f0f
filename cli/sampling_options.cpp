#include "cli/sampling_options.h"

#include <CLI/CLI.hpp>

#include "inference/sampler.h"

namespace natter::cli {

void add_sampling_options(CLI::App& cmd, SamplingParams& s) {
    cmd.add_option("--temp", s.temperature, "Temperature; 0 picks the most likely token")->capture_default_str()->check(CLI::Range(0.0, 100.0));
    cmd.add_option("--top-k,--top_k", s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str()->check(CLI::Range(0, 1 << 24));
    cmd.add_option("--top-p,--top_p", s.top_p, "Nucleus sampling threshold (1: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--min-p,--min_p", s.min_p, "Drop tokens below min-p times the best (0: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--repeat-penalty,--repeat_penalty", s.repeat_penalty, "Penalty for repeated tokens (1: off)")->capture_default_str()->check(CLI::Range(0.01, 100.0));
    cmd.add_option("--repeat-last-n,--repeat_last_n", s.repeat_last_n, "Tokens the penalties look back over (-1: all)")->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    cmd.add_option("--frequency-penalty,--frequency_penalty", s.frequency_penalty, "Subtract count x this from a seen token's logit")->capture_default_str();
    cmd.add_option("--presence-penalty,--presence_penalty", s.presence_penalty, "Subtract this from a seen token's logit")->capture_default_str();
    cmd.add_option("-s,--seed", s.seed, "Random seed (default: random)");
}

}  // namespace natter::cli
