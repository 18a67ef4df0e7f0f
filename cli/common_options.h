#pragma once
// The flags `natter chat` and `natter run` share, in llama.cpp's spellings, so that its
// tutorials' command lines run as they are: the model, context, batch, threads, reply length
// and sampling, plus llama.cpp's flags that mean nothing here (-ngl, --mlock, -fa, ...), which
// are accepted with one line on stderr saying so.
#include <string>
#include <vector>

#include "inference/sampler.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace natter::cli {

struct CommonOptions {
    std::string model;    // -m; empty: the default model
    int n_ctx = 2048;     // -c; 0: the model's training context
    int n_batch = 512;    // -b
    int n_threads = 0;    // -t; 0: one per physical core
    int n_predict = -1;   // -n; -1: no limit
    bool flash_attn = true;  // -fa on|off|auto; auto: on, as llama.cpp on the CPU
    SamplingParams sampling;
    const CLI::Option* ctx_option = nullptr;  // set by add_common_options: was -c given?
};

// -m, -c, -n, -b, -t, the sampling flags and the flags without effect, into `o` (whose values
// are the defaults shown in --help). `n_predict_help` says what -n means for this command.
void add_common_options(CLI::App& cmd, CommonOptions& o, const char* n_predict_help);

// -fa/--flash-attn on|off|auto, llama.cpp's flag (a bare -fa, its older form, is on): `on`
// becomes llama.cpp's flash attention (its numerics) or its attention without it. auto, the
// default, is on, as llama.cpp's auto is on the CPU.
void add_flash_attn_option(CLI::App& cmd, bool& on);
// on, off or auto (also 1, 0, true, false; empty: a bare -fa, on) as a flash attention
// setting; throws otherwise. flash_attn_error: why a value is none of them ("" if it is one).
bool parse_flash_attn(const std::string& value);
std::string flash_attn_error(const std::string& value);

// --batch-order llama|fast: the summation order of prompt batches, process-wide (quant/kernels.h's
// BatchOrder). llama, the default, gives llama.cpp's logits bit for bit; fast, natter's own
// faster order where it has one (Q4_1, Q5_0, Q5_1, Q8_0 weights on CPUs with AVX-512 VNNI).
void add_batch_order_option(CLI::App& cmd);
std::string batch_order_error(const std::string& value);

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --frequency-penalty,
// --presence-penalty and -s/--seed.
void add_sampling_options(CLI::App& cmd, SamplingParams& params);

// natter's argument list as CLI11 should see it (argv without the program name): `natter`
// alone or with only options means `natter chat`; llama.cpp's multi-letter short flags
// (-ngl, -ins, -cnv, -fa, -sys, ...) become their long names; and a long flag's name may be
// written with underscores (--ctx_size, --n_predict: llama.cpp accepts both), which become dashes.
std::vector<std::string> llama_args(std::vector<std::string> args);

// The threads to run: -t above the number of physical cores warns on stderr and is clamped
// (more threads than cores only wait for each other). 0 stays 0 (the default).
// The whole of a text file the user named with a flag ("-": standard input); `what` names it
// in the error ("prompt", "text").
std::string read_text_file(const std::string& path, const std::string& what);

int threads_to_use(int requested);

// One number through a printf format ("%.2f MiB"), for the tables bench and info print.
std::string format_number(const char* fmt, double x);

// Warns on stderr when -c was given above the context the model was trained with.
void warn_if_beyond_training(const CommonOptions& o, int n_ctx_train);

}  // namespace natter::cli
