// The architecture seam (inference/arch.h) and the trace hook (inference/trace.h), on the
// small stories260K llama model.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths.h"
#include "inference/arch.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/tensor_dump.h"

namespace fs = std::filesystem;

namespace {

std::string stories_path() { return std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf"; }

// Records what the forward pass reports, as the dump would name it.
class RecordingTrace final : public natter::Trace {
public:
    int evals = 0;
    std::vector<std::string> names;
    std::vector<std::vector<int64_t>> shapes;

    void begin_eval() override { ++evals; }
    void tensor(const natter::TraceName& name, const float*, std::initializer_list<int64_t> shape) override {
        std::string s = name.base;
        if (name.layer >= 0) s.append("-").append(std::to_string(name.layer));
        if (name.repeat > 0) s.append("#").append(std::to_string(name.repeat));
        names.push_back(s);
        shapes.emplace_back(shape);
    }
};

TEST(EngineArchitecture, LlamaIsRegistered) {
    EXPECT_STREQ(natter::find_architecture("llama", "x.gguf").name, "llama");
    EXPECT_STREQ(natter::find_architecture("gemma3", "x.gguf").name, "gemma3");
    EXPECT_EQ(natter::supported_architectures(), "llama, qwen2, qwen3, gemma3, phi3");
}

// A model file copied to a temporary file, with what `change` adds or sets.
fs::path rewritten(const std::string& source, const std::function<void(natter::GgufWriter&)>& change) {
    const natter::GgufFile src = natter::GgufFile::open(source);
    natter::GgufWriter w;
    for (const auto& [k, v] : src.metadata()) w.set(k, v);
    for (const natter::GgufTensor& t : src.tensors()) w.add_tensor(t.name, t.type, t.shape, t.data, t.nbytes);
    change(w);
    const fs::path path = fs::temp_directory_path() / ("natter-arch-test-" + std::to_string(::getpid()) + ".gguf");
    w.write(path.string());
    return path;
}

// ... with one metadata key set to value.
fs::path model_with(const std::string& source, const std::string& key, natter::GgufValue value) {
    return rewritten(source, [&](natter::GgufWriter& w) { w.set(key, std::move(value)); });
}

fs::path stories_with(const std::string& key, natter::GgufValue value) { return model_with(stories_path(), key, std::move(value)); }

TEST(EngineArchitecture, UnknownArchitectureIsOneSentenceNamingTheSupportedOnes) {
    // stories260K with another general.architecture: the tokenizer and the weights are fine,
    // only the architecture is not.
    const fs::path path = stories_with("general.architecture", natter::GgufValue{std::string("mamba")});
    try {
        natter::Model::load(path.string());
        ADD_FAILURE() << "a mamba model loaded";
    } catch (const natter::Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path.string() + ": architecture 'mamba' (general.architecture) is not supported; natter runs llama, qwen2, qwen3, gemma3, phi3");
    }
    fs::remove(path);
}

TEST(EngineArchitecture, LlamaLeavesTheOptionalSlotsEmpty) {
    const auto model = natter::Model::load(stories_path());
    EXPECT_STREQ(model->architecture().name, "llama");
    for (const natter::LayerWeights& L : model->layers()) {
        EXPECT_FALSE(L.wq.empty());
        EXPECT_FALSE(L.attn_norm.empty());
        EXPECT_TRUE(L.bq.empty() && L.bk.empty() && L.bv.empty());
        EXPECT_TRUE(L.attn_q_norm.empty() && L.attn_k_norm.empty());
        EXPECT_TRUE(L.attn_post_norm.empty() && L.ffn_post_norm.empty());
        EXPECT_TRUE(L.wqkv.empty());
    }
}

TEST(EngineArchitecture, TraceSeesLlamaCppsNodeNamesAndChangesNothing) {
    const auto model = natter::Model::load(stories_path());
    const natter::Hparams& hp = model->hparams();
    const std::vector<int32_t> tokens = {1, 403, 407};

    natter::Forward plain(*model, natter::ForwardOptions{64, 64, 1});
    plain.set_trace(nullptr);
    const auto plain_logits = plain.eval(tokens, 0);
    const std::vector<float> expected(plain_logits.begin(), plain_logits.end());

    RecordingTrace rec;
    natter::Forward traced(*model, natter::ForwardOptions{64, 64, 1});
    traced.set_trace(&rec);
    const auto logits = traced.eval(tokens, 0);
    EXPECT_EQ(std::vector<float>(logits.begin(), logits.end()), expected);

    EXPECT_EQ(rec.evals, 1);
    const std::vector<std::string> layer0 = {"attn_norm-0", "Qcur-0", "Kcur-0", "Vcur-0", "Qcur-0#2",
                                             "Kcur-0#2", "kqv_out-0", "attn_out-0", "ffn_inp-0", "ffn_norm-0",
                                             "ffn_gate-0", "ffn_up-0", "ffn_swiglu-0", "ffn_out-0", "l_out-0"};
    ASSERT_EQ(rec.names.size(), layer0.size() * static_cast<size_t>(hp.n_layer) + 2);
    EXPECT_EQ(std::vector<std::string>(rec.names.begin(), rec.names.begin() + 15), layer0);
    EXPECT_EQ(rec.shapes[4], (std::vector<int64_t>{3, hp.n_head, hp.head_dim}));  // Qcur-0#2
    // Only the last row goes through the last layer's feed-forward and the output.
    const size_t last_ffn_inp = layer0.size() * static_cast<size_t>(hp.n_layer - 1) + 8;
    EXPECT_EQ(rec.names[last_ffn_inp], "ffn_inp-" + std::to_string(hp.n_layer - 1));
    EXPECT_EQ(rec.shapes[last_ffn_inp], (std::vector<int64_t>{1, hp.n_embd}));
    EXPECT_EQ(rec.names[rec.names.size() - 2], "result_norm");
    EXPECT_EQ(rec.names.back(), "result_output");
    EXPECT_EQ(rec.shapes.back(), (std::vector<int64_t>{1, hp.n_vocab}));
}

// Gemma 3 270M's hyper-parameters as llama.cpp derives them (llama_model_gemma3 and
// set_swa_pattern(6)): every sixth layer global with the file's RoPE base, the others local
// with base 10000 and the 512-position window; the queries scaled by 1/sqrt(head_dim).
TEST(EngineArchitecture, Gemma3ReadsLlamaCppsSlidingWindowPattern) {
    const std::string path = natter::paths::model_cache_dir().string() + "/gemma-3-270m-q4_k_m.gguf";
    ASSERT_TRUE(fs::exists(path)) << path << " is missing (scripts/setup and scripts/test download it)";
    const auto model = natter::Model::load(path);
    const natter::Hparams& hp = model->hparams();
    EXPECT_STREQ(model->architecture().name, "gemma3");
    EXPECT_EQ(hp.n_layer, 18);
    EXPECT_EQ(hp.head_dim, 256);
    EXPECT_EQ(hp.n_swa, 512);
    for (int l = 0; l < hp.n_layer; ++l) EXPECT_EQ(hp.is_swa(l), l % 6 != 5) << "layer " << l;
    EXPECT_EQ(hp.rope.freq_base, 1e6f);
    EXPECT_EQ(hp.rope_swa.freq_base, 10000.0f);
    EXPECT_TRUE(hp.rope.neox && hp.rope_swa.neox);
    EXPECT_EQ(hp.q_scale, 1.0f / 16.0f);
    EXPECT_EQ(hp.kq_scale, 1.0f);
    EXPECT_EQ(hp.final_logit_softcap, 0.0f);
    for (const natter::LayerWeights& L : model->layers()) {
        EXPECT_EQ(L.attn_q_norm.size(), 256u);
        EXPECT_EQ(L.ffn_post_norm.size(), 640u);
    }
}

std::vector<float> last_logits(natter::Forward& f, const std::vector<int32_t>& tokens) {
    const auto logits = f.eval(tokens, 0);
    return {logits.begin(), logits.end()};
}

// A llama file with llama.attention.sliding_window (Mistral-style): every layer sees only the
// last n_swa positions. Within the window it is the model without one, bit for bit; past it,
// a token further back than the layers can carry (n_layer * (n_swa - 1) positions) changes
// nothing at all, while without the window it does.
TEST(EngineArchitecture, LlamaSlidingWindowHidesWhatIsOutsideIt) {
    const fs::path path = stories_with("llama.attention.sliding_window", natter::GgufValue{uint32_t{4}});
    const auto swa = natter::Model::load(path.string());
    fs::remove(path);
    const auto full = natter::Model::load(stories_path());
    const natter::Hparams& hp = swa->hparams();
    ASSERT_EQ(hp.n_swa, 4);
    for (int l = 0; l < hp.n_layer; ++l) EXPECT_TRUE(hp.is_swa(l));
    EXPECT_FALSE(full->hparams().is_swa(0));

    natter::Forward fs_(*swa, natter::ForwardOptions{64, 64, 1});
    natter::Forward ff(*full, natter::ForwardOptions{64, 64, 1});
    const std::vector<int32_t> within = {1, 403, 407, 261};
    EXPECT_EQ(last_logits(fs_, within), last_logits(ff, within));

    std::vector<int32_t> a(40), b;
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int32_t>(i == 0 ? 1 : 300 + (i * 7) % 200);
    b = a;
    b[1] = 260;  // position 1: at most n_layer * 3 + 1 positions from it see it, far below 39
    ASSERT_LT(1 + hp.n_layer * (hp.n_swa - 1), 39);
    EXPECT_EQ(last_logits(fs_, a), last_logits(fs_, b));
    EXPECT_NE(last_logits(ff, a), last_logits(ff, b));
}

// KV reuse past the sliding window (what the session does when a conversation changes late):
// a gemma3 context cut back to position 520 and evaluated on from there gives the logits of a
// context that never held the discarded tokens, bit for bit, in the local and global layers.
TEST(EngineArchitecture, Gemma3CacheTruncatedPastTheWindowResumesExactly) {
    const std::string path = natter::paths::model_cache_dir().string() + "/gemma-3-270m-q4_k_m.gguf";
    ASSERT_TRUE(fs::exists(path)) << path << " is missing (scripts/setup and scripts/test download it)";
    const auto model = natter::Model::load(path);
    std::vector<int32_t> tokens(540);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i == 0 ? 2 : 1000 + (i * 37) % 5000);
    const std::span<const int32_t> all(tokens);
    auto run = [&](natter::Forward& f, bool detour) {
        f.eval(all.subspan(0, 512), 0);
        f.eval(all.subspan(512, 8), 512);
        if (detour) {  // 10 other tokens at 520..529, then forgotten
            const std::vector<int32_t> other(10, 4242);
            f.eval(other, 520);
        }
        const auto logits = f.eval(all.subspan(520, 20), 520);
        return std::vector<float>(logits.begin(), logits.end());
    };
    natter::Forward fresh(*model, natter::ForwardOptions{1024, 512, 2});
    natter::Forward reused(*model, natter::ForwardOptions{1024, 512, 2});
    EXPECT_EQ(run(reused, true), run(fresh, false));
}

// rope.scaling.yarn_log_multiplier is read by llama.cpp (0.3.36) for DeepSeek-2 only: on a
// qwen2 YaRN file its logits with the key (0.1) are those without it, bit for bit (checked with
// llama-cpp-python on tests/data/models/qwen2-yarn-random-q8_0.gguf and a copy that sets it).
// natter gives such a file the same logits, where it once refused it.
TEST(EngineArchitecture, YarnLogMultiplierChangesNothingAsInLlamaCpp) {
    const std::string plain = std::string(NATTER_TEST_DATA_DIR) + "/models/qwen2-yarn-random-q8_0.gguf";
    const fs::path keyed = model_with(plain, "qwen2.rope.scaling.yarn_log_multiplier", natter::GgufValue{0.1f});
    const auto a = natter::Model::load(plain);
    const auto b = natter::Model::load(keyed.string());
    fs::remove(keyed);
    EXPECT_EQ(a->hparams().rope.attn_factor, b->hparams().rope.attn_factor);
    EXPECT_EQ(a->hparams().rope.ext_factor, 1.0f);  // YaRN is on in both
    natter::Forward fa(*a, natter::ForwardOptions{64, 64, 1}), fb(*b, natter::ForwardOptions{64, 64, 1});
    const std::vector<int32_t> tokens = {1, 400, 2, 91, 7, 300, 45, 8, 200, 19};
    EXPECT_EQ(last_logits(fa, tokens), last_logits(fb, tokens));
}

// qwen2's optional output.bias: llama.cpp's loader reads it (TENSOR_NOT_REQUIRED) and its graph
// adds it to the logits (ggml_add after the output matmul). A file with one gives the logits of
// the file without it plus the bias, exactly (a float add); natter once ignored it.
TEST(EngineArchitecture, Qwen2OutputBiasIsAddedToTheLogits) {
    const std::string plain = std::string(NATTER_TEST_DATA_DIR) + "/models/qwen2-random-q8_0.gguf";
    const auto a = natter::Model::load(plain);
    const int n_vocab = a->hparams().n_vocab;
    std::vector<float> bias(static_cast<size_t>(n_vocab));
    for (int i = 0; i < n_vocab; ++i) bias[static_cast<size_t>(i)] = 0.01f * static_cast<float>((i * 37) % 101 - 50);
    const fs::path biased = rewritten(plain, [&](natter::GgufWriter& w) {
        w.add_tensor("output.bias", natter::GgmlType::F32, {n_vocab}, bias.data(), bias.size() * sizeof(float));
    });
    const auto b = natter::Model::load(biased.string());
    fs::remove(biased);
    ASSERT_EQ(b->output_bias(), bias);
    EXPECT_TRUE(a->output_bias().empty());
    natter::Forward fa(*a, natter::ForwardOptions{64, 64, 1}), fb(*b, natter::ForwardOptions{64, 64, 1});
    const std::vector<int32_t> tokens = {1, 400, 2, 91, 7, 300, 45, 8};
    const std::vector<float> la = last_logits(fa, tokens), lb = last_logits(fb, tokens);
    ASSERT_EQ(lb.size(), bias.size());
    int differ = 0;
    for (size_t i = 0; i < lb.size(); ++i) differ += lb[i] != la[i] + bias[i];
    EXPECT_EQ(differ, 0);
}

TEST(EngineArchitecture, NoTraceWithoutTheDumpDirectory) {
    const char* dir = std::getenv("NATTER_DUMP_DIR");
    if (dir && *dir) GTEST_SKIP() << "NATTER_DUMP_DIR is set";
    EXPECT_EQ(natter::tensor_dump::from_environment(), nullptr);
}

}  // namespace
