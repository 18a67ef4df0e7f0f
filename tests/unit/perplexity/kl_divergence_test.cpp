// natter perplexity --kl-divergence-base / --kl-divergence against llama-perplexity's
// (tests/reference/make_kld_reference.py): the base file natter writes for the default model
// is llama.cpp's byte for byte (its sha256), and the report on the default model requantized to
// Q4_0 agrees with llama.cpp's statistic by statistic within 0.5% (the numbers as llama.cpp
// prints them, so also within their last printed digit).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "core/error.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "inference/model.h"
#include "tools/kl_divergence.h"
#include "tools/perplexity.h"
#include "tools/quantize.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ScratchDir {
    fs::path path = fs::temp_directory_path() / ("natter-kld-" + std::to_string(::getpid()));
    ScratchDir() { fs::create_directories(path); }
    ~ScratchDir() { fs::remove_all(path); }
};

json reference() {
    std::ifstream in(std::string(NATTER_REFERENCE_DIR) + "/kl_divergence/smollm2-q4_1.genesis-kjv.json");
    if (!in) throw std::runtime_error("cannot read tests/reference/kl_divergence/smollm2-q4_1.genesis-kjv.json");
    return json::parse(in);
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The reference is llama.cpp's attention without flash attention (-fa off), so is this,
// whatever perplexity's default.
template <typename Options>
void without_flash_attention(Options& o) {
    if constexpr (requires { o.flash_attn; }) o.flash_attn = false;
}

tools::PerplexityOptions options(int n_ctx, int n_threads, int n_chunks) {
    tools::PerplexityOptions o;
    o.n_ctx = o.n_batch = n_ctx;
    o.n_threads = n_threads;
    o.n_chunks = n_chunks;
    without_flash_attention(o);
    return o;
}

// Within 0.5%, or within half a unit of the last digit llama.cpp printed.
void expect_close(double ours, const json& ref, double printed_unit, const std::string& what) {
    const double theirs = ref.get<double>();
    EXPECT_LE(std::fabs(ours - theirs), std::max(0.005 * std::fabs(theirs), 0.5 * printed_unit + 1e-12))
        << what << ": natter " << ours << ", llama.cpp " << theirs;
}

void expect_estimate(const tools::Estimate& e, const json& stats, const std::string& label, double scale, double unit) {
    ASSERT_TRUE(stats.contains(label)) << label;
    expect_close(scale * e.value, stats[label][0], unit, label);
    if (stats[label].size() > 1) expect_close(scale * e.error, stats[label][1], unit, label + " error");
}

void expect_percentiles(const tools::KldPercentiles& p, const json& stats, const std::string& name, double scale,
                        double unit) {
    const std::pair<const char*, double> rows[] = {
        {"Maximum", p.max}, {"99.9%", p.p99_9}, {"99.0%", p.p99}, {"95.0%", p.p95}, {"90.0%", p.p90},
        {"Median", p.median}, {"10.0%", p.p10}, {"5.0%", p.p5}, {"1.0%", p.p1}, {"0.1%", p.p0_1}, {"Minimum", p.min}};
    for (const auto& [label, v] : rows) {
        const std::string key = std::string(label) + " " + name;
        ASSERT_TRUE(stats.contains(key)) << key;
        expect_close(scale * v, stats[key][0], unit, key);
    }
}

TEST(KlDivergenceVsLlamaCpp, BaseFileIsLlamaCppsAndTheReportAgrees) {
    const json ref = reference();
    ScratchDir dir;
    const std::string base_model = (paths::model_cache_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf").string();
    const std::string q = (dir.path / "q4_0.gguf").string();
    tools::quantize_model({base_model, q, tools::parse_file_type(ref["q_type"].get<std::string>()), true, true, 2, ""},
                          nullptr);
    ASSERT_EQ(file_sha256(q), ref["q_sha256"].get<std::string>()) << "not the Q file llama.cpp was run on";

    const std::string base = (dir.path / "base.kld").string();
    {
        const auto model = Model::load(base_model);
        const std::string text = read_all(std::string(NATTER_TEST_DATA_DIR) + "/" + ref["text"].get<std::string>());
        const int n_ctx = ref["n_ctx"].get<int>();
        tools::perplexity_with_kld_base(*model, tools::perplexity_tokens(*model, text),
                                        options(n_ctx, 2, ref["chunks"].get<int>()), nullptr, base);
    }
    EXPECT_EQ(file_sha256(base), ref["base_sha256"].get<std::string>()) << "the base file differs from llama.cpp's";

    const auto model = Model::load(q);
    int chunks = 0;
    const tools::KldResult r = tools::compute_kl_divergence(*model, base, options(512, 2, -1),
                                                            [&](const tools::KldChunk& c) { chunks = c.index; });
    EXPECT_EQ(chunks, ref["chunks"].get<int>());
    EXPECT_EQ(r.count, 4 * 63);
    const json& s = ref["statistics"];
    expect_estimate(r.ppl, s, "Mean PPL(Q)", 1, 1e-6);
    expect_estimate(r.ppl_base, s, "Mean PPL(base)", 1, 1e-6);
    expect_close(100 * r.ppl_correlation, s["Cor(ln(PPL(Q)), ln(PPL(base)))"][0], 0.01, "correlation");
    expect_estimate(r.ln_ppl_ratio, s, "Mean ln(PPL(Q)/PPL(base))", 1, 1e-6);
    expect_estimate(r.ppl_ratio, s, "Mean PPL(Q)/PPL(base)", 1, 1e-6);
    expect_estimate(r.ppl_diff, s, "Mean PPL(Q)-PPL(base)", 1, 1e-6);
    expect_estimate(r.kld, s, "Mean KLD", 1, 1e-6);
    expect_percentiles(r.kld_at, s, "KLD", 1, 1e-6);
    expect_estimate(r.dp, s, "Mean Δp", 100, 1e-3);
    expect_percentiles(r.dp_at, s, "Δp", 100, 1e-3);
    expect_estimate(r.rms_dp, s, "RMS Δp", 100, 1e-3);
    expect_estimate(r.same_top, s, "Same top p", 100, 1e-3);
}

TEST(KlDivergenceErrors, BadBaseFilesAreOneClearSentence) {
    ScratchDir dir;
    const std::string model_path = std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";
    const auto model = Model::load(model_path);
    const auto expect_error = [&](const std::string& path, const std::string& part) {
        try {
            tools::compute_kl_divergence(*model, path, options(512, 1, -1), nullptr);
            ADD_FAILURE() << path << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    expect_error(model_path, "no _logits_ at its start");
    // A real base file of stories260K (2 chunks of 16), then cut, then read by another vocabulary.
    const std::string base = (dir.path / "base.kld").string();
    const std::string text = read_all(std::string(NATTER_TEST_DATA_DIR) + "/genesis-kjv.txt").substr(0, 2000);
    tools::perplexity_with_kld_base(*model, tools::perplexity_tokens(*model, text), options(16, 1, 2),
                                    nullptr, base);
    EXPECT_NO_THROW(tools::compute_kl_divergence(*model, base, options(512, 1, -1), nullptr));
    const std::string whole = read_all(base);
    std::ofstream((dir.path / "cut.kld").string(), std::ios::binary) << whole.substr(0, whole.size() - 10);
    expect_error((dir.path / "cut.kld").string(), "where its header promises");
    const auto other = Model::load((paths::model_cache_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf").string());
    try {
        tools::compute_kl_divergence(*other, base, options(512, 1, -1), nullptr);
        ADD_FAILURE() << "a base file of another vocabulary was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("vocabulary of 512 tokens"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace natter::test
