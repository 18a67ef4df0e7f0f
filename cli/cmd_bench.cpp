// `natter bench`: prompt processing (pp) and text generation (tg) speed, measured the way
// llama-bench measures it so that the two tables can be compared line by line.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "core/paths.h"
#include "core/error.h"
#include "inference/forward.h"
#include "inference/model.h"

namespace natter::cli {

namespace {

struct BenchOptions {
    std::vector<std::string> models;
    std::vector<int> n_prompt{512};
    std::vector<int> n_gen{128};
    std::vector<int> n_threads{0};
    std::vector<int> n_depth{0};
    std::vector<std::string> flash_attn{"auto"};
    int reps = 5;
    int n_batch = 512;
    std::string output = "md";
    bool warmup = true;
};

// One line of the table: a model, a thread count and one test (pp or tg) with its samples.
struct BenchResult {
    std::string model_filename, model_type, quant;
    uint64_t model_size = 0;  // bytes of tensor data, as llama-bench's "size"
    int64_t n_params = 0;
    int n_threads = 0, n_batch = 0, n_prompt = 0, n_gen = 0, n_depth = 0;
    bool flash_attn = true;
    std::string test_time;
    std::vector<double> samples_ns;

    // llama-bench's names: "pp512", "tg128", "pp512 @ d4096" after 4096 tokens in the cache.
    std::string test_name() const {
        const std::string name = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
        return n_depth > 0 ? name + " @ d" + std::to_string(n_depth) : name;
    }
    int n_tokens() const { return n_prompt + n_gen; }
    std::vector<double> samples_ts() const {
        std::vector<double> ts;
        for (double ns : samples_ns) ts.push_back(1e9 * n_tokens() / ns);
        return ts;
    }
};

double mean(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1), as llama-bench reports it; 0 for a single sample.
double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0.0;
    const double m = mean(v);
    double sq = 0;
    for (double x : v) sq += (x - m) * (x - m);
    return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

// "llama 1.1B Q4_K_M": architecture, size class and file type, as llama-bench's model column.
std::string model_type(const Model& model, const std::string& quant) {
    const double n = static_cast<double>(model.n_params());
    const std::string size = n >= 1e9 ? format_number("%.1fB", n / 1e9) : format_number("%.0fM", n / 1e6);
    return model.hparams().architecture + " " + size + " " + quant;
}

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%FT%TZ", std::gmtime(&t));
    return buf;
}

using Clock = std::chrono::steady_clock;

// Random tokens, as llama-bench feeds: the speed of a forward pass does not depend on them.
std::vector<int32_t> random_tokens(int n, int n_vocab, std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = pick(rng);
    return tokens;
}

// pp: the whole prompt after the first `depth` positions, in batches of n_batch (Forward
// splits it). tg: n_gen single-token decodes after them. Returns nanoseconds.
double run_once(Forward& fwd, int depth, int n_prompt, int n_gen, int n_vocab, std::mt19937& rng) {
    const std::vector<int32_t> tokens = random_tokens(std::max(n_prompt, n_gen), n_vocab, rng);
    const auto start = Clock::now();
    if (n_prompt > 0) {
        fwd.eval(std::span<const int32_t>(tokens.data(), static_cast<size_t>(n_prompt)), depth);
    } else {
        for (int i = 0; i < n_gen; ++i) fwd.eval(std::span<const int32_t>(&tokens[static_cast<size_t>(i)], 1), depth + i);
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

void run_test(Forward& fwd, BenchResult& r, int reps, bool warmup, std::mt19937& rng) {
    const int n_vocab = fwd.model().hparams().n_vocab;
    // llama-bench's depth: n_depth tokens evaluated first, untimed; every repetition then
    // starts from that cache (the positions after it are written again each time).
    if (r.n_depth > 0 && fwd.evaluated() < r.n_depth) {
        const std::vector<int32_t> depth = random_tokens(r.n_depth, n_vocab, rng);
        fwd.eval(depth, 0);
    }
    // Warm-up as llama-bench does it: a full prompt for pp, one token for tg. It faults the
    // mapped weights in and starts the threads, which the first timed run should not pay.
    if (warmup) run_once(fwd, r.n_depth, r.n_prompt, r.n_prompt > 0 ? 0 : 1, n_vocab, rng);
    for (int i = 0; i < reps; ++i) r.samples_ns.push_back(run_once(fwd, r.n_depth, r.n_prompt, r.n_gen, n_vocab, rng));
}

// ---- output -------------------------------------------------------------------------

std::string size_text(uint64_t bytes) {
    const double mib = static_cast<double>(bytes) / (1 << 20);
    return mib < 1024 ? format_number("%.2f MiB", mib) : format_number("%.2f GiB", mib / 1024);
}

std::string params_text(int64_t n) {
    const double x = static_cast<double>(n);
    return x < 1e9 ? format_number("%.2f M", x / 1e6) : format_number("%.2f B", x / 1e9);
}

std::string ts_text(const BenchResult& r) {
    const std::vector<double> ts = r.samples_ts();
    return format_number("%.2f", mean(ts)) + " ± " + format_number("%.2f", stddev(ts));
}

void print_markdown_header() {
    std::printf("| %-30s | %10s | %10s | %-7s | %7s | %2s | %15s | %20s |\n", "model", "size", "params", "backend",
                "threads", "fa", "test", "t/s");
    std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: | %s: |\n", std::string(30, '-').c_str(),
                std::string(9, '-').c_str(), std::string(9, '-').c_str(), std::string(7, '-').c_str(),
                std::string(6, '-').c_str(), std::string(1, '-').c_str(), std::string(14, '-').c_str(),
                std::string(19, '-').c_str());
}

void print_markdown_row(const BenchResult& r) {
    // "±" is two bytes but one column: widen the field by one so the bars line up.
    std::printf("| %-30s | %10s | %10s | %-7s | %7d | %2d | %15s | %21s |\n", r.model_type.c_str(),
                size_text(r.model_size).c_str(), params_text(r.n_params).c_str(), "CPU", r.n_threads, r.flash_attn ? 1 : 0,
                r.test_name().c_str(), ts_text(r).c_str());
}

using Json = nlohmann::ordered_json;

Json result_json(const BenchResult& r) {
    const std::vector<double> ts = r.samples_ts();
    Json j;
    j["model_filename"] = r.model_filename;
    j["model_type"] = r.model_type;
    j["model_size"] = r.model_size;
    j["model_n_params"] = r.n_params;
    j["quant"] = r.quant;
    j["backend"] = "CPU";
    j["n_threads"] = r.n_threads;
    j["n_batch"] = r.n_batch;
    j["n_prompt"] = r.n_prompt;
    j["n_gen"] = r.n_gen;
    j["n_depth"] = r.n_depth;
    j["flash_attn"] = r.flash_attn;
    j["test"] = r.test_name();
    j["test_time"] = r.test_time;
    j["avg_ns"] = static_cast<int64_t>(mean(r.samples_ns));
    j["stddev_ns"] = static_cast<int64_t>(stddev(r.samples_ns));
    j["avg_ts"] = mean(ts);
    j["stddev_ts"] = stddev(ts);
    Json samples_ns = Json::array();
    for (double ns : r.samples_ns) samples_ns.push_back(static_cast<int64_t>(ns));
    j["samples_ns"] = samples_ns;
    j["samples_ts"] = ts;
    return j;
}

std::string csv_field(const Json& value) {
    if (!value.is_string()) return value.dump();
    std::string s = "\"";
    for (char c : value.get<std::string>()) s += c == '"' ? std::string("\"\"") : std::string(1, c);
    return s + "\"";
}

// CSV with the JSON members as columns (sample lists left out: one number per cell).
void print_csv_row(const BenchResult& r, bool header) {
    const Json j = result_json(r);
    std::string names, values;
    for (const auto& [key, value] : j.items()) {
        if (value.is_array()) continue;
        names += (names.empty() ? "" : ",") + key;
        values += (values.empty() ? "" : ",") + csv_field(value);
    }
    if (header) std::printf("%s\n", names.c_str());
    std::printf("%s\n", values.c_str());
}

// Rows are printed as each test finishes (Markdown, CSV); JSON needs the whole array.
class Printer {
public:
    explicit Printer(std::string format) : format_(std::move(format)) {
        if (format_ == "md") print_markdown_header();
    }
    void add(const BenchResult& r) {
        if (format_ == "md") print_markdown_row(r);
        else if (format_ == "csv") print_csv_row(r, rows_++ == 0);
        else json_.push_back(result_json(r));
        std::fflush(stdout);
    }
    void finish() {
        if (format_ == "json") std::printf("%s\n", json_.dump(2).c_str());
    }

private:
    std::string format_;
    int rows_ = 0;
    Json json_ = Json::array();
};

// ---- driver -------------------------------------------------------------------------

void bench_model(const std::string& path, const BenchOptions& o, Printer& printer) {
    auto model = Model::load(path);
    BenchResult base;
    base.model_filename = path;
    base.quant = model->quant_name();
    base.model_type = model_type(*model, base.quant);
    for (const GgufTensor& t : model->file().tensors()) base.model_size += t.nbytes;
    base.n_params = model->n_params();
    base.n_batch = o.n_batch;
    const int max_prompt = *std::max_element(o.n_prompt.begin(), o.n_prompt.end());
    const int max_gen = *std::max_element(o.n_gen.begin(), o.n_gen.end());
    std::mt19937 rng(42);
    for (const std::string& fa : o.flash_attn) {
        for (int threads : o.n_threads) {
            for (int depth : o.n_depth) {
                // A cache of exactly what the tests need, as llama-bench's n_ctx.
                Forward fwd(*model, ForwardOptions{std::max(1, depth + std::max(max_prompt, max_gen)), o.n_batch, threads,
                                                   parse_flash_attn(fa)});
                base.n_threads = fwd.n_threads();
                base.n_depth = depth;
                base.flash_attn = fwd.flash_attn();
                std::vector<BenchResult> tests;
                for (int p : o.n_prompt) if (p > 0) tests.push_back(base), tests.back().n_prompt = p;
                for (int n : o.n_gen) if (n > 0) tests.push_back(base), tests.back().n_gen = n;
                for (BenchResult& r : tests) {
                    r.test_time = now_iso8601();
                    run_test(fwd, r, o.reps, o.warmup, rng);
                    printer.add(r);
                }
            }
        }
    }
}

void bench(BenchOptions o) {
    if (o.models.empty()) o.models.push_back(paths::resolve_model_path(""));
    for (const std::string& m : o.models) {
        if (!std::filesystem::exists(m)) throw Error("the model file " + m + " does not exist");
    }
    Printer printer(o.output);
    for (const std::string& m : o.models) bench_model(m, o, printer);
    printer.finish();
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (like llama-bench)");
    cmd->add_option("-m,--model", o->models, "GGUF model file(s), comma-separated or repeated (default: the cached SmolLM2-135M-Instruct)")
        ->delimiter(',');
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt lengths for pp tests (0: none)")->delimiter(',')->capture_default_str()
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-n,--n-gen", o->n_gen, "Token counts for tg tests (0: none)")->delimiter(',')->capture_default_str()
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-t,--threads", o->n_threads, "Thread counts (0: one per physical core)")->delimiter(',')->check(CLI::Range(0, 1024));
    cmd->add_option("-d,--n-depth", o->n_depth, "Tokens already in the cache before each test (llama-bench's depth)")
        ->delimiter(',')->capture_default_str()->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--flash-attn", o->flash_attn, "-fa: flash attention on, off or auto (auto: on), or several: -fa 0,1")
        ->delimiter(',')->capture_default_str()->check(CLI::Validator(flash_attn_error, "on|off|auto"));
    add_batch_order_option(*cmd);
    cmd->add_option("-r,--repetitions", o->reps, "Timed runs of each test")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("-b,--batch-size", o->n_batch, "Prompt tokens evaluated per batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd->add_option("-o,--output", o->output, "Output format: md, csv or json")->capture_default_str()
        ->check(CLI::IsMember({"md", "csv", "json"}));
    cmd->add_flag_callback("--json", [o]() { o->output = "json"; }, "Same as -o json");
    cmd->add_flag_callback("--csv", [o]() { o->output = "csv"; }, "Same as -o csv");
    cmd->add_flag_callback("--no-warmup", [o]() { o->warmup = false; }, "Skip the untimed warm-up run before each test");
    cmd->callback([o]() { bench(*o); });
}

}  // namespace natter::cli
