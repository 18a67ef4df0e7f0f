#include "cli/common_options.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <map>

#include "core/error.h"
#include "quant/kernels.h"
#include "inference/thread_pool.h"

namespace natter::cli {

namespace {

// llama.cpp's flags that mean nothing in natter: accepted, with one line saying why.
struct NoEffect {
    const char* names;  // CLI11 names
    const char* shown;  // the spelling the notice uses
    int values;         // 0: a flag, 1: takes a value, -1: an optional value
    const char* why;
};

constexpr NoEffect kNoEffect[] = {
    {"--n-gpu-layers,--gpu-layers", "-ngl", 1, "natter runs on the CPU"},
    {"--split-mode", "-sm", 1, "natter runs on the CPU"},
    {"--main-gpu", "-mg", 1, "natter runs on the CPU"},
    {"--tensor-split", "-ts", 1, "natter runs on the CPU"},
    {"--no-kv-offload", "-nkvo", 0, "natter runs on the CPU"},
    {"--mlock", "--mlock", 0, "natter maps the model file and leaves its pages to the kernel"},
    {"--no-mmap", "--no-mmap", 0, "natter always maps the model file"},
    {"--numa", "--numa", 1, "natter does not place threads by NUMA node"},
    {"--cache-type-k", "-ctk", 1, "natter's KV cache is always F16"},
    {"--cache-type-v", "-ctv", 1, "natter's KV cache is always F16"},
    {"--ubatch-size", "-ub", 1, "natter evaluates the prompt in batches of -b tokens"},
    {"--threads-batch", "-tb", 1, "natter uses the -t threads for the prompt too"},
};

// llama.cpp's short flags of more than one letter (CLI11 would read -ngl as -n gl).
const std::map<std::string, std::string, std::less<>> kMultiLetter = {
    {"-ngl", "--n-gpu-layers"}, {"-sm", "--split-mode"},    {"-mg", "--main-gpu"},
    {"-ts", "--tensor-split"},  {"-nkvo", "--no-kv-offload"}, {"-fa", "--flash-attn"},
    {"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"}, {"-ub", "--ubatch-size"},
    {"-tb", "--threads-batch"}, {"-np", "--parallel"}, {"-ins", "--instruct"},     {"-cnv", "--conversation"},
    {"-sys", "--system-prompt"}, {"-co", "--color"},        {"-mli", "--multiline-input"},
};

void say_no_effect(const NoEffect& n) { std::fprintf(stderr, "natter: %s has no effect: %s\n", n.shown, n.why); }

void add_no_effect_options(CLI::App& cmd) {
    const std::string group = "Accepted for llama.cpp's command lines, without effect";
    for (const NoEffect& n : kNoEffect) {
        CLI::Option* opt = nullptr;
        if (n.values == 0) {
            opt = cmd.add_flag_callback(n.names, [&n]() { say_no_effect(n); });
        } else {
            opt = cmd.add_option_function<std::string>(n.names, [&n](const std::string&) { say_no_effect(n); });
            if (n.values < 0) opt->expected(0, 1);
        }
        opt->group(group)->description(std::string(n.shown) + ": " + n.why);
    }
}

}  // namespace

std::string flash_attn_error(const std::string& value) {
    for (const char* ok : {"on", "off", "auto", "1", "0", "true", "false", ""}) {
        if (value == ok) return "";
    }
    return "-fa takes on, off or auto, not '" + value + "'";
}

bool parse_flash_attn(const std::string& value) {
    if (const std::string e = flash_attn_error(value); !e.empty()) throw Error(e + ".");
    return value != "off" && value != "0" && value != "false";
}

void add_flash_attn_option(CLI::App& cmd, bool& on) {
    cmd.add_option_function<std::string>(
           "--flash-attn", [&on](const std::string& v) { on = parse_flash_attn(v); },
           "Flash attention: on, off or auto (auto: on, as llama.cpp on the CPU); the same logits as llama.cpp's "
           "with the same setting")
        ->expected(0, 1)
        ->type_name("on|off|auto")
        ->check(flash_attn_error, "on|off|auto");
}

std::string batch_order_error(const std::string& value) {
    if (value == "llama" || value == "fast") return "";
    return "--batch-order takes llama or fast, not '" + value + "'";
}

void add_batch_order_option(CLI::App& cmd) {
    cmd.add_option_function<std::string>(
           "--batch-order",
           [](const std::string& v) { set_batch_order(v == "fast" ? BatchOrder::Fast : BatchOrder::Llama); },
           "Summation order of prompt batches: llama (default: llama.cpp's, bit for bit) or fast (natter's own "
           "where it has a faster kernel: Q4_1, Q5_0, Q5_1, Q8_0 weights on CPUs with AVX-512 VNNI; logits differ from llama.cpp's "
           "in the last bits)")
        ->type_name("llama|fast")
        ->check(batch_order_error, "llama|fast");
}

void add_sampling_options(CLI::App& cmd, SamplingParams& s) {
    cmd.add_option("--temp", s.temperature, "Temperature; 0 picks the most likely token")->capture_default_str()->check(CLI::Range(0.0, 100.0));
    cmd.add_option("--top-k", s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str()->check(CLI::Range(0, 1 << 24));
    cmd.add_option("--top-p", s.top_p, "Nucleus sampling threshold (1: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--min-p", s.min_p, "Drop tokens below min-p times the best (0: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--repeat-penalty", s.repeat_penalty, "Penalty for repeated tokens (1: off)")->capture_default_str()->check(CLI::Range(0.01, 100.0));
    cmd.add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back over (-1: all)")->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    cmd.add_option("--frequency-penalty", s.frequency_penalty, "Subtract count x this from a seen token's logit")->capture_default_str();
    cmd.add_option("--presence-penalty", s.presence_penalty, "Subtract this from a seen token's logit")->capture_default_str();
    cmd.add_option("-s,--seed", s.seed, "Random seed (default: random)");
}

void add_common_options(CLI::App& cmd, CommonOptions& o, const char* n_predict_help) {
    cmd.add_option("-m,--model", o.model, "GGUF model file (default: the cached SmolLM2-135M-Instruct)");
    o.ctx_option = cmd.add_option("-c,--ctx-size", o.n_ctx, "Context size in tokens (0: the model's training context)")
                       ->capture_default_str()
                       ->check(CLI::Range(0, 1 << 20));
    cmd.add_option("-n,--n-predict", o.n_predict, n_predict_help)->capture_default_str()->check(CLI::Range(-1, 1 << 24));
    cmd.add_option("-b,--batch-size", o.n_batch, "Prompt tokens evaluated per batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd.add_option("-t,--threads", o.n_threads, "Threads (default: one per core; more than the cores are clamped)")->check(CLI::Range(0, 1 << 16));
    add_flash_attn_option(cmd, o.flash_attn);
    add_batch_order_option(cmd);
    add_sampling_options(cmd, o.sampling);
    add_no_effect_options(cmd);
}

std::vector<std::string> llama_args(std::vector<std::string> args) {
    // --config FILE belongs to natter itself (cli/config_file.h), wherever it was written.
    std::vector<std::string> config;
    for (size_t i = 0; i < args.size() && args[i] != "--";) {
        const size_t n = args[i] == "--config" && i + 1 < args.size() ? 2 : args[i].starts_with("--config=") ? 1 : 0;
        if (n == 0) {
            ++i;
            continue;
        }
        config.insert(config.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i + n));
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i + n));
    }
    // `natter` alone, or with only options (`natter -m model.gguf`), opens the chat.
    const std::string first = args.empty() ? "" : args.front();
    if (args.empty() || (first.starts_with('-') && first != "-h" && first != "--help" && first != "--version")) {
        args.insert(args.begin(), "chat");
    }
    args.insert(args.begin(), config.begin(), config.end());
    for (std::string& a : args) {
        if (a == "--") break;  // what follows is not a flag
        if (const auto it = kMultiLetter.find(a); it != kMultiLetter.end()) {
            a = it->second;
        } else if (a.starts_with("--")) {
            const size_t end = std::min(a.find('='), a.size());
            for (size_t i = 2; i < end; ++i) {
                if (a[i] == '_') a[i] = '-';
            }
        }
    }
    return args;
}

std::string read_text_file(const std::string& path, const std::string& what) {
    std::ostringstream s;
    if (path == "-") {
        s << std::cin.rdbuf();
        return s.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("Cannot read the " + what + " file " + path + ": " + std::strerror(errno) + ".");
    s << in.rdbuf();
    return s.str();
}

std::string format_number(const char* fmt, double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, x);
    return buf;
}

int threads_to_use(int requested) {
    const int cores = physical_cores();
    if (requested <= cores) return requested;
    std::fprintf(stderr, "natter: -t %d is more than the %d core%s here; using %d\n", requested, cores, cores == 1 ? "" : "s", cores);
    return cores;
}

void warn_if_beyond_training(const CommonOptions& o, int n_ctx_train) {
    if (o.ctx_option == nullptr || o.ctx_option->count() == 0 || n_ctx_train <= 0 || o.n_ctx <= n_ctx_train) return;
    std::fprintf(stderr, "natter: -c %d is more than the %d tokens the model was trained on; text beyond that may be poor\n",
                 o.n_ctx, n_ctx_train);
}

}  // namespace natter::cli
