// Bad input to `natter quantize`: each case gets one clear error and leaves no output file
// (neither the output nor its temporary) behind.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cmath>

#include "tools/quantize.h"
#include "core/error.h"
#include "inference/gguf.h"
#include "quant/quant.h"
#include "unit/gguf/gguf_test_util.h"

namespace natter::test {
namespace {

// A two-layer llama-shaped model with F32 weights (rows of 256, so every type fits).
void write_tiny_model(const std::string& path, GgmlType weight_type = GgmlType::F32) {
    static std::vector<std::vector<uint8_t>> keep;  // the writer copies nothing
    GgufWriter w;
    w.set("general.architecture", GgufValue{std::string("llama")});
    w.set("llama.block_count", GgufValue{uint32_t{2}});
    w.set("llama.attention.head_count", GgufValue{uint32_t{4}});
    const auto add = [&](const std::string& name, std::vector<int64_t> shape, GgmlType type) {
        const int64_t n = shape[0] * (shape.size() > 1 ? shape[1] : 1);
        std::vector<float> f(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) f[static_cast<size_t>(i)] = std::sin(0.37f * static_cast<float>(i));
        std::vector<uint8_t>& bytes = keep.emplace_back(row_size(type, shape[0]) * static_cast<size_t>(n / shape[0]));
        for (int64_t r = 0; r < n / shape[0]; ++r) {
            quantize_row(type, f.data() + r * shape[0], bytes.data() + r * row_size(type, shape[0]), shape[0]);
        }
        w.add_tensor(name, type, shape, bytes.data(), bytes.size());
    };
    add("token_embd.weight", {256, 64}, weight_type);
    add("output_norm.weight", {256}, GgmlType::F32);
    for (int i = 0; i < 2; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        add(p + "attn_norm.weight", {256}, GgmlType::F32);
        for (const char* n : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight"}) {
            add(p + n, {256, 256}, weight_type);
        }
    }
    w.write(path);
}

tools::QuantizeOptions options(const ScratchDir& dir, const std::string& input, const char* type = "Q4_K_M") {
    return {input, (dir / "out.gguf").string(), tools::parse_file_type(type), false, false, 1, ""};
}

// Runs quantize_model, expects natter::Error containing `part`, and no output left behind.
void expect_failure(const tools::QuantizeOptions& o, const std::string& part) {
    try {
        tools::quantize_model(o, nullptr);
        ADD_FAILURE() << "quantize succeeded but should fail with: " << part;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(o.output));
    EXPECT_FALSE(std::filesystem::exists(o.output + ".tmp"));
}

TEST(QuantizeErrors, MissingInput) {
    ScratchDir dir;
    expect_failure(options(dir, (dir / "nowhere.gguf").string()), "nowhere.gguf: cannot open: No such file or directory");
}

TEST(QuantizeErrors, InputIsNotGguf) {
    ScratchDir dir;
    std::ofstream(dir / "notes.txt") << "these are not the weights you are looking for\n";
    expect_failure(options(dir, (dir / "notes.txt").string()), "notes.txt");
}

TEST(QuantizeErrors, UnsupportedTensorType) {
    ScratchDir dir;
    write_tiny_model((dir / "tiny.gguf").string(), GgmlType::Q4_0);
    // MXFP4 (type 39), which natter does not read: the type is refused before any size check.
    std::vector<uint8_t> bytes = read_file(dir / "tiny.gguf");
    const std::string name = "blk.1.attn_v.weight";
    const auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end()) - bytes.begin();
    const size_t type_offset = static_cast<size_t>(at) + name.size() + 4 + 2 * 8;  // n_dims, two dims
    ASSERT_EQ(bytes[type_offset], static_cast<uint8_t>(GgmlType::Q4_0));
    bytes[type_offset] = 39;
    std::ofstream(dir / "mxfp4.gguf", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                            static_cast<std::streamsize>(bytes.size()));
    expect_failure(options(dir, (dir / "mxfp4.gguf").string()), "blk.1.attn_v.weight");
    expect_failure(options(dir, (dir / "mxfp4.gguf").string()), "unsupported tensor type");
}

TEST(QuantizeErrors, QuantizedInputNeedsAllowRequantize) {
    ScratchDir dir;
    write_tiny_model((dir / "q8.gguf").string(), GgmlType::Q8_0);
    expect_failure(options(dir, (dir / "q8.gguf").string()), "is already quantized (Q8_0); quantizing it again loses precision");
    tools::QuantizeOptions o = options(dir, (dir / "q8.gguf").string());
    o.allow_requantize = true;
    tools::quantize_model(o, nullptr);
    EXPECT_EQ(GgufFile::open(o.output).find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q4_K);
}

TEST(QuantizeErrors, OutputMustDifferFromInput) {
    ScratchDir dir;
    write_tiny_model((dir / "out.gguf").string());
    const std::vector<uint8_t> before = read_file(dir / "out.gguf");
    try {
        tools::quantize_model(options(dir, (dir / "out.gguf").string()), nullptr);
        ADD_FAILURE() << "quantizing a file onto itself succeeded";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "the output file must differ from the input file");
    }
    EXPECT_EQ(read_file(dir / "out.gguf"), before);
}

TEST(QuantizeErrors, OutputDirectoryMissing) {
    ScratchDir dir;
    write_tiny_model((dir / "tiny.gguf").string());
    tools::QuantizeOptions o = options(dir, (dir / "tiny.gguf").string());
    o.output = (dir / "no-such-dir" / "out.gguf").string();
    expect_failure(o, "no-such-dir/out.gguf");
}

// A full disk, simulated with a file size limit in a child process.
TEST(QuantizeErrorsDeathTest, DiskFullLeavesNoOutput) {
    ScratchDir dir;
    write_tiny_model((dir / "tiny.gguf").string());
    const tools::QuantizeOptions o = options(dir, (dir / "tiny.gguf").string(), "Q8_0");
    const auto quantize_on_a_full_disk = [&] {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{32 * 1024, 32 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        try {
            tools::quantize_model(o, nullptr);
        } catch (const Error& e) {
            std::fprintf(stderr, "%s\n", e.what());
            std::exit(std::filesystem::exists(o.output) || std::filesystem::exists(o.output + ".tmp") ? 2 : 0);
        }
        std::exit(3);
    };
    EXPECT_EXIT(quantize_on_a_full_disk(), ::testing::ExitedWithCode(0),
                "out.gguf.tmp: File too large \\(the quantized model needs [0-9.]+ MiB\\)");
    EXPECT_FALSE(std::filesystem::exists(o.output));
    EXPECT_FALSE(std::filesystem::exists(o.output + ".tmp"));
}

TEST(QuantizeTiny, SummaryCountsTypesBytesAndWeights) {
    ScratchDir dir;
    write_tiny_model((dir / "tiny.gguf").string());
    const tools::QuantizeSummary s = tools::quantize_model(options(dir, (dir / "tiny.gguf").string(), "Q4_K_M"), nullptr);
    // 3 norms stay F32; tied token_embd -> Q6_K; per layer attn_v Q6_K (2 layers: 0 < 2/8? no;
    // 1 >= 7*2/8 = 1: yes; 0: (0 - 0) % 3 != 2 -> Q4_K), q/k/output Q4_K.
    EXPECT_EQ(s.n_converted, 9);
    EXPECT_EQ(s.n_copied, 3);
    EXPECT_EQ(s.output_types.at(GgmlType::F32), 3);
    EXPECT_EQ(s.output_types.at(GgmlType::Q6_K), 2);
    EXPECT_EQ(s.output_types.at(GgmlType::Q4_K), 7);
    EXPECT_EQ(s.n_weights, 256 * 64 + 256 * 3 + 2 * 4 * 256 * 256);
    EXPECT_EQ(s.bytes_in, static_cast<uint64_t>(s.n_weights) * 4);
    const uint64_t q4k_row = 144, q6k_row = 210;  // bytes per 256 weights
    EXPECT_EQ(s.bytes_out, 64 * q6k_row + 3 * 256 * 4 + 256 * q6k_row + 7 * 256 * q4k_row);
    EXPECT_EQ(std::filesystem::file_size(dir / "out.gguf") > s.bytes_out, true);
}

}  // namespace
}  // namespace natter::test
