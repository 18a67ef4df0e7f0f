// natter convert on the committed tiny checkpoints (tests/data/checkpoints, one per family
// and layout, written by transformers): every --outtype gives the file llama.cpp's
// convert_hf_to_gguf.py gives, and the F32 file runs to transformers' logits.
#include <unistd.h>

#include "tools/convert.h"
#include "unit/convert/convert_test_util.h"
#include "unit/gguf/gguf_test_util.h"

namespace natter::test {
namespace {

const char* const kCheckpoints[] = {"llama", "llama3", "mistral", "qwen2", "qwen3", "phi3", "gemma3"};
const char* const kOuttypes[] = {"f32", "f16", "bf16", "q8_0"};

std::string convert(const ScratchDir& dir, const std::string& name, const std::string& outtype) {
    const std::string out = (dir / (name + "-" + outtype + ".gguf")).string();
    tools::convert_checkpoint({checkpoint_dir(name), out, *tools::parse_outtype(outtype)}, nullptr);
    return out;
}

class ConvertMatchesLlamaCpp : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

// The same file to the byte (metadata order, tensor order, padding); and, to say what differs
// when it is not, key by key and tensor by tensor.
TEST_P(ConvertMatchesLlamaCpp, SameFile) {
    const auto [name, outtype] = GetParam();
    ScratchDir dir;
    const std::string out = convert(dir, name, outtype);
    const nlohmann::json ref = convert_reference(name)["llama_cpp"][outtype];
    EXPECT_EQ(file_sha256(out), ref["file_sha256"].get<std::string>());
    expect_same_as_llama_cpp(GgufFile::open(out), ref);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, ConvertMatchesLlamaCpp,
                         ::testing::Combine(::testing::ValuesIn(kCheckpoints), ::testing::ValuesIn(kOuttypes)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
                         });

class ConvertedRunsLikeTransformers : public ::testing::TestWithParam<const char*> {};

// The tokenizer (natter's, from the converted vocabulary) gives transformers' prompt ids,
// the F32 model's logits after each prompt are within 1e-3 of transformers' float32 ones,
// and 16 greedy tokens are the same.
TEST_P(ConvertedRunsLikeTransformers, LogitsAndGreedyTokens) {
    const std::string name = GetParam();
    ScratchDir dir;
    const auto model = Model::load(convert(dir, name, "f32"));
    for (const nlohmann::json& c : convert_reference(name)["transformers"]) {
        const auto prompt = c["tokens"].get<std::vector<int32_t>>();
        EXPECT_EQ(model->tokenizer().tokenize(c["prompt"].get<std::string>(), true, false), prompt) << c["prompt"];
        expect_transformers_logits(*model, prompt, c["logits"].get<std::vector<float>>(),
                                   c["greedy"].get<std::vector<int32_t>>(), 1e-3f);
    }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, ConvertedRunsLikeTransformers, ::testing::ValuesIn(kCheckpoints));

}  // namespace
}  // namespace natter::test
