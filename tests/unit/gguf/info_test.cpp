// `natter info`: text and JSON output on a real model and on our sample file.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <regex>

#include "cli/commands.h"
#include "gguf_test_util.h"

namespace natter::test {
namespace {

std::string run_info(std::vector<std::string> args) {
    CLI::App app{"natter"};
    cli::add_info_command(app);
    args.insert(args.begin(), "info");
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    ::testing::internal::CaptureStdout();
    app.parse(args);
    std::fflush(stdout);
    return ::testing::internal::GetCapturedStdout();
}

const std::string kStories = std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST(NatterInfo, TextShowsHeaderMetadataTensorsAndTotals) {
    const std::string out = run_info({kStories});
    EXPECT_TRUE(contains(out, "GGUF version 3, 1.13 MiB (1185376 bytes)")) << out;
    EXPECT_TRUE(contains(out, "Alignment   32 bytes; tensor data starts at byte 14176")) << out;
    EXPECT_TRUE(contains(out, "19 metadata keys, 48 tensors")) << out;
    EXPECT_TRUE(contains(out, R"(string[512]   [512 strings] "<unk>", "<s>", "</s>", "<0x00>",)")) << out;
    EXPECT_TRUE(contains(out, "llama.embedding_length                  uint32        64\n")) << out;
    EXPECT_TRUE(contains(out, "llama.attention.layer_norm_rms_epsilon  float32       1e-05\n")) << out;
    // Tensor rows: index, name, type, shape (row dimension first), size.
    EXPECT_TRUE(std::regex_search(out, std::regex("\n +0  token_embd\\.weight +F32 +64 x 512 +128\\.00 KiB\n"))) << out;
    EXPECT_TRUE(contains(out, "parameters   292.80 K (292800)")) << out;
    EXPECT_TRUE(contains(out, "tensor data  1.12 MiB (1171200 bytes), 32.00 bits per weight")) << out;
    EXPECT_FALSE(contains(run_info({"--no-tensors", kStories}), "token_embd.weight"));
}

TEST(NatterInfo, LongValuesAreCutUnlessFull) {
    ScratchDir dir;
    const std::string long_text(300, 'x');
    GgufWriter writer;
    writer.set("tokenizer.chat_template", GgufValue{long_text});
    writer.write((dir / "t.gguf").string());
    const std::string cut = run_info({(dir / "t.gguf").string()});
    EXPECT_TRUE(contains(cut, "\"" + std::string(95, 'x') + "…\n")) << cut;
    EXPECT_TRUE(contains(cut, "Tensors\n  (none)")) << cut;
    const std::string full = run_info({"--full", (dir / "t.gguf").string()});
    EXPECT_TRUE(contains(full, "\"" + long_text + "\"\n")) << full;
}

TEST(NatterInfo, JsonIsCompleteAndMachineReadable) {
    ScratchDir dir;
    const std::vector<SampleTensor> tensors = sample_tensors();
    write_sample(dir / "s.gguf");
    const auto j = nlohmann::json::parse(run_info({"--json", (dir / "s.gguf").string()}));
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["alignment"], 32);
    EXPECT_EQ(j["metadata"]["test.u64"]["type"], "uint64");
    EXPECT_EQ(j["metadata"]["test.u64"]["value"].get<uint64_t>(), 9223372036854775813ull);
    EXPECT_EQ(j["metadata"]["test.i8"]["value"], -100);
    EXPECT_EQ(j["metadata"]["test.string"]["value"], "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93");
    EXPECT_EQ(j["metadata"]["test.nested.int32"]["element_type"], "array");
    EXPECT_EQ(j["metadata"]["test.nested.int32"]["value"], nlohmann::json::parse("[[1,2],[3],[]]"));
    EXPECT_EQ(j["metadata"]["test.array.bool"]["value"], nlohmann::json::parse("[true,false,true]"));
    ASSERT_EQ(j["tensors"].size(), tensors.size());
    EXPECT_EQ(j["tensors"][2]["name"], "t.q4_0");
    EXPECT_EQ(j["tensors"][2]["type"], "Q4_0");
    EXPECT_EQ(j["tensors"][2]["shape"], nlohmann::json::parse("[64,2]"));
    EXPECT_EQ(j["tensors"][2]["nbytes"], 72);
    // 12 + 64 + 128 + 96 + 256 + 512 + 16 elements; 48+128+72+102+144+420+64 bytes.
    EXPECT_EQ(j["totals"]["parameters"], 1084);
    EXPECT_EQ(j["totals"]["bytes"], 978);
    EXPECT_EQ(j["totals"]["by_type"]["F32"]["tensors"], 2);
    EXPECT_DOUBLE_EQ(j["totals"]["by_type"]["Q8_0"]["bits_per_weight"].get<double>(), 8.5);
    EXPECT_FALSE(nlohmann::json::parse(run_info({"--json", "--no-tensors", (dir / "s.gguf").string()}))
                     .contains("tensors"));
}

TEST(NatterInfo, ErrorsComeOutAsNatterErrors) {
    EXPECT_THROW(run_info({"/nonexistent/model.gguf"}), Error);
    ::testing::internal::GetCapturedStdout();  // the throw left the capture running
}

}  // namespace
}  // namespace natter::test
