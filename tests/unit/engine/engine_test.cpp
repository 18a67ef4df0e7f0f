// The engine against llama.cpp: for every reference file in tests/reference/engine (made by
// tests/reference/make_engine_reference.py), the prompt tokens, the logits of the first
// generated position and the greedy 64-token continuation must match.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/paths.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/ops.h"
#include "quant/packed.h"
#include "quant/types.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A divergence from llama.cpp is accepted only where its own top two logits are this close.
constexpr float kNearTie = 0.01f;
// The references were made by llama.cpp's x86 CPU backend, and our AVX2 kernels add up in
// exactly its order, so the logits must be the same floats: no tolerance at all.
//
// The portable kernels (a CPU without AVX2, or NATTER_KERNELS=reference) sum in their own
// order. That alone is harmless (1e-6), but it now and then moves an activation across a
// rounding boundary of its Q8 (or BF16) quantization, a whole step, which SmolLM2's large
// activation outliers amplify: measured max |logit diff| 0.2-1.9 on the quantized variants,
// as llama.cpp's own portable build would show against its AVX2 one. There is no token-exact
// expectation for them, so this test is skipped; tests/unit/simd checks every AVX2 kernel
// against the portable one on random data.
constexpr float kMaxLogitDiff = 0.0f;

std::string cache_dir() { return natter::paths::cache_dir().string(); }

struct Case {
    std::string file;   // reference json
    std::string model;  // reference model name (json stem)
    size_t index = 0;
    std::string name;
};

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    const fs::path dir = fs::path(NATTER_REFERENCE_DIR) / "engine";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
        std::ifstream in(f);
        const json doc = json::parse(in);
        for (size_t i = 0; i < doc["cases"].size(); ++i) {
            cases.push_back({f.string(), f.stem().string(), i, doc["cases"][i]["name"].get<std::string>()});
        }
    }
    return cases;
}

std::string model_path(const std::string& name, const json& doc) {
    if (doc.contains("type")) return cache_dir() + "/variants/" + name + ".gguf";
    if (name == "stories260k") return std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";
    if (doc.value("in_test_data", false)) {
        return std::string(NATTER_TEST_DATA_DIR) + "/models/" + doc["model"].get<std::string>();
    }
    return cache_dir() + "/models/" + doc["model"].get<std::string>();
}

std::vector<float> read_logits(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot read " << path;
    in.seekg(0, std::ios::end);
    std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
    return v;
}

std::vector<int32_t> top_n(std::span<const float> logits, size_t n) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    ids.resize(n);
    return ids;
}

// Models are loaded once per file, not once per case.
const natter::Model& cached_model(const std::string& path) {
    static std::map<std::string, std::unique_ptr<natter::Model>> models;
    auto& m = models[path];
    if (!m) m = natter::Model::load(path);
    return *m;
}

class EngineVsLlamaCpp : public ::testing::TestWithParam<Case> {};

TEST_P(EngineVsLlamaCpp, MatchesReference) {
    if (natter::kernels().name != "avx2") {
        GTEST_SKIP() << "references are llama.cpp's AVX2 results; kernels here: " << natter::kernels().name;
    }
    const Case& c = GetParam();
    std::ifstream in(c.file);
    const json doc = json::parse(in);
    const json& ref = doc["cases"][c.index];
    const std::string path = model_path(c.model, doc);
    ASSERT_TRUE(fs::exists(path)) << path << " is missing ("
                                  << (doc.contains("type") ? "the ctest fixture make_variants makes it"
                                                           : "scripts/setup and scripts/test download it")
                                  << ")";
    const natter::Model& model = cached_model(path);
    // Q4_0 / Q4_K matrices are held packed where this CPU has kernels for it (quant/packed.h),
    // so the references below hold for those kernels too.
    for (const natter::LayerWeights& L : model.layers()) {
        for (const natter::WeightMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
            const bool packable = natter::has_packed_layout(m->type) && m->rows % natter::kPackedRows == 0 &&
                                  natter::kernels().packed_tile_dot(m->type, natter::DotPath::Repacked) != nullptr;
            ASSERT_EQ(m->packed != nullptr, packable) << natter::type_name(m->type) << " matrix of " << m->rows << " rows";
        }
    }

    const auto ref_prompt = ref["prompt_tokens"].get<std::vector<int32_t>>();
    const auto ours = model.tokenizer().tokenize(ref["prompt"].get<std::string>(), true, true);
    EXPECT_EQ(ours, ref_prompt) << "prompt tokenization differs from llama.cpp";

    // With flash attention a generated token's attention over 512+ positions is split over the
    // threads as llama.cpp splits it, so those references hold only for their thread count.
    const bool flash = doc.value("flash_attn", false);
    natter::Forward fwd(model, natter::ForwardOptions{doc.value("n_ctx", 512), 512, flash ? doc.value("n_threads", 2) : 0,
                                                      flash});
    std::span<const float> logits = fwd.eval(ref_prompt, 0);

    // First generated position: all logits close, same top-10 ranking.
    const std::vector<float> expected = read_logits(fs::path(c.file).parent_path() / ref["logits_file"].get<std::string>());
    ASSERT_EQ(expected.size(), logits.size());
    float max_diff = 0.0f;
    for (size_t i = 0; i < logits.size(); ++i) max_diff = std::max(max_diff, std::fabs(logits[i] - expected[i]));
    const auto our_top = top_n(logits, 10);
    const auto ref_top = ref["top10"].get<std::vector<int32_t>>();
    std::cout << "[ logits ] " << c.model << "/" << c.name << (model.packed_bytes() ? " (packed rows)" : "") << ": max |diff| = " << max_diff
              << ", top-10 " << (our_top == ref_top ? "identical" : "DIFFERENT") << "\n";
    EXPECT_LE(max_diff, kMaxLogitDiff);
    for (size_t i = 0; i < ref_top.size(); ++i) {
        if (our_top[i] == ref_top[i]) continue;
        const float gap = std::fabs(expected[static_cast<size_t>(our_top[i])] - expected[static_cast<size_t>(ref_top[i])]);
        EXPECT_LT(gap, kNearTie) << "top-10 rank " << i << ": ours " << our_top[i] << ", llama.cpp " << ref_top[i];
    }

    // Greedy continuation, token for token, and at every step llama.cpp's two top logits
    // (the generated positions' logits, through the single-query attention paths).
    const auto ref_gen = ref["generated"].get<std::vector<int32_t>>();
    const auto top2 = ref["top2"].get<std::vector<std::array<float, 2>>>();
    std::vector<int32_t> tokens = ref_prompt;
    int top2_differing = 0;
    for (size_t i = 0; i < ref_gen.size(); ++i) {
        const auto ours2 = top_n(logits, 2);
        for (int j = 0; j < 2; ++j) {
            const float ours = logits[static_cast<size_t>(ours2[static_cast<size_t>(j)])];
            if (std::fabs(ours - top2[i][static_cast<size_t>(j)]) > kMaxLogitDiff && top2_differing++ == 0) {
                ADD_FAILURE() << "step " << i << ": top-" << j + 1 << " logit " << ours << ", llama.cpp "
                              << top2[i][static_cast<size_t>(j)];
            }
        }
        const int32_t id = natter::argmax(logits);
        if (id != ref_gen[i]) {
            const float gap = top2[i][0] - top2[i][1];
            std::cout << "[ diverge] " << c.model << "/" << c.name << " at token " << i << ": ours " << id
                      << ", llama.cpp " << ref_gen[i] << ", llama.cpp's top-2 gap " << gap << "\n";
            EXPECT_LT(gap, kNearTie) << "greedy continuation diverges at token " << i << " where llama.cpp is not near a tie";
            return;
        }
        tokens.push_back(id);
        if (i + 1 < ref_gen.size()) logits = fwd.eval(std::span<const int32_t>(&tokens.back(), 1), static_cast<int>(tokens.size()) - 1);
    }
    std::cout << "[ greedy ] " << c.model << "/" << c.name << ": " << ref_gen.size() << " tokens identical\n";
}

INSTANTIATE_TEST_SUITE_P(Reference, EngineVsLlamaCpp, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             std::string n = info.param.model + "_" + info.param.name;
                             for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

}  // namespace
