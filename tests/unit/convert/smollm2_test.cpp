// natter convert on the default model written back as a Hugging Face checkpoint (the fixture
// convert_smollm2_checkpoint runs tests/reference/smollm2_to_safetensors.py): its real
// byte-level BPE tokenizer (the pre-tokenizer told by its hash), 30 layers, 538 MB of F32.
// Each conversion runs in a child process, which is also how its memory is measured.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tools/convert.h"
#include "unit/convert/convert_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;

const fs::path kWork = NATTER_CONVERT_WORK;
const fs::path kCheckpoint = kWork / "SmolLM2-135M-Instruct";

struct ChildRun {
    bool ok = false;
    long max_rss_kib = 0;
    std::string error;
};

// Converts in a child process, whose peak resident memory is then the conversion's own.
ChildRun convert_in_child(const fs::path& out, tools::OutType type) {
    const fs::path err = kWork / ("error-" + std::to_string(::getpid()));
    const pid_t pid = ::fork();
    if (pid == 0) {
        try {
            tools::convert_checkpoint({kCheckpoint.string(), out.string(), type}, nullptr);
            _exit(0);
        } catch (const std::exception& e) {
            std::ofstream(err) << e.what();
            _exit(1);
        }
    }
    ChildRun r;
    int status = 0;
    rusage use{};
    ::wait4(pid, &status, 0, &use);
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    r.max_rss_kib = use.ru_maxrss;
    std::ifstream in(err);
    r.error.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(err);
    return r;
}

class ConvertSmolLM2 : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(kCheckpoint / "model.safetensors")) GTEST_SKIP() << "no " << kCheckpoint << " (the fixture makes it)";
    }
};

// Q8_0: llama.cpp's file to the byte, and memory stays near the largest tensor (the 49152 x 576 embedding,
// 113 MB as F32) instead of the model: the 538 MB of safetensors are never resident at once.
TEST_F(ConvertSmolLM2, Q8_0MatchesLlamaCppInBoundedMemory) {
    const fs::path out = kWork / "smollm2-q8_0.gguf";
    const ChildRun r = convert_in_child(out, tools::OutType::Q8_0);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_LT(r.max_rss_kib, 300 * 1024) << "peak resident memory of natter convert, KiB";
    {
        const nlohmann::json ref = convert_reference("smollm2")["llama_cpp"]["q8_0"];
        EXPECT_EQ(file_sha256(out), ref["file_sha256"].get<std::string>());
        const GgufFile f = GgufFile::open(out.string());
        expect_same_as_llama_cpp(f, ref);
        EXPECT_EQ(f.get_string("tokenizer.ggml.pre", ""), "smollm");
    }
    fs::remove(out);
}

// F32: llama.cpp's file to the byte, and it runs to transformers' logits and greedy tokens.
TEST_F(ConvertSmolLM2, F32MatchesLlamaCppAndTransformers) {
    const fs::path out = kWork / "smollm2-f32.gguf";
    const ChildRun r = convert_in_child(out, tools::OutType::F32);
    ASSERT_TRUE(r.ok) << r.error;
    {
        const nlohmann::json ref = convert_reference("smollm2")["llama_cpp"]["f32"];
        EXPECT_EQ(file_sha256(out), ref["file_sha256"].get<std::string>());
        expect_same_as_llama_cpp(GgufFile::open(out.string()), ref);
    }
    const auto model = Model::load(out.string());
    std::ifstream in(std::string(NATTER_REFERENCE_DIR) + "/convert/smollm2-logits.f32", std::ios::binary);
    const size_t n_vocab = static_cast<size_t>(model->tokenizer().n_vocab());
    for (const nlohmann::json& c : convert_reference("smollm2")["transformers"]) {
        std::vector<float> want(n_vocab);
        in.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(n_vocab * 4));
        ASSERT_TRUE(in) << "smollm2-logits.f32 is short";
        const auto prompt = c["tokens"].get<std::vector<int32_t>>();
        EXPECT_EQ(model->tokenizer().tokenize(c["prompt"].get<std::string>(), true, true), prompt);
        expect_transformers_logits(*model, prompt, want, c["greedy"].get<std::vector<int32_t>>(), 1e-3f);
    }
    fs::remove(out);
}

}  // namespace
}  // namespace natter::test
