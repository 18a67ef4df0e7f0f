// The architecture seam (inference/arch.h) and the trace hook (inference/trace.h), on the
// small stories260K llama model.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
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
    EXPECT_EQ(natter::supported_architectures(), "llama");
}

TEST(EngineArchitecture, UnknownArchitectureIsOneSentenceNamingTheSupportedOnes) {
    // stories260K with another general.architecture: the tokenizer and the weights are fine,
    // only the architecture is not.
    const natter::GgufFile src = natter::GgufFile::open(stories_path());
    natter::GgufWriter w;
    for (const auto& [key, value] : src.metadata()) w.set(key, value);
    w.set("general.architecture", natter::GgufValue{std::string("mamba")});
    for (const natter::GgufTensor& t : src.tensors()) w.add_tensor(t.name, t.type, t.shape, t.data, t.nbytes);
    const fs::path path = fs::temp_directory_path() / ("natter-arch-test-" + std::to_string(::getpid()) + ".gguf");
    w.write(path.string());
    try {
        natter::Model::load(path.string());
        ADD_FAILURE() << "a mamba model loaded";
    } catch (const natter::Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path.string() + ": architecture 'mamba' (general.architecture) is not supported; natter runs llama");
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

TEST(EngineArchitecture, NoTraceWithoutTheDumpDirectory) {
    const char* dir = std::getenv("NATTER_DUMP_DIR");
    if (dir && *dir) GTEST_SKIP() << "NATTER_DUMP_DIR is set";
    EXPECT_EQ(natter::tensor_dump::from_environment(), nullptr);
}

}  // namespace
