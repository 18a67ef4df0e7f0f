// natter quantize --pure --imatrix to IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ1_S and IQ1_M against
// llama.cpp (tests/reference/make_iq2_quantize_reference.py): on the default model's exact F32
// copy, with llama-imatrix's matrix of it (which natter's imatrix reproduces byte for byte),
// every tensor's bytes are llama-quantize's, and llama.cpp, run on natter's file, generates the
// greedy tokens natter does. On SmolLM2 only ffn_down has rows of a multiple of 256; the other
// matrices fall back to IQ4_NL, as in llama.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <unistd.h>

#include "core/error.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/ops.h"
#include "quant/quant.h"
#include "tools/imatrix.h"
#include "unit/quantize/quantize_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const json& reference() {
    static const json doc = quantize_reference("iq2_imatrix.json");
    return doc;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Runs f with the working directory `dir` (the files record the matrix's path as given).
template <typename F>
void in_directory(const fs::path& dir, F&& f) {
    const fs::path cwd = fs::current_path();
    fs::current_path(dir);
    try {
        f();
    } catch (...) {
        fs::current_path(cwd);
        throw;
    }
    fs::current_path(cwd);
}

// llama-imatrix's matrix of the default model, remade by natter as the reference made it
// (genesis-kjv.txt, 2 chunks of 128 tokens, batches of 128, no flash attention) and checked
// against the sha256 of llama.cpp's file. Returns its directory (the matrix is
// smollm2.imatrix.gguf there).
fs::path imatrix_dir() {
    static fs::path dir;
    if (!dir.empty()) return dir;
    const fs::path d = fs::path(natter_cache_dir()) / "quantize";
    const fs::path path = d / reference()["imatrix"].get<std::string>();
    if (file_sha256(path.string()) != reference()["imatrix_sha256"]) {
        fs::create_directories(d);
        const auto model = Model::load(default_model_path());
        std::ifstream in(std::string(NATTER_TEST_DATA_DIR) + "/genesis-kjv.txt", std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        tools::ImatrixOptions o;
        o.eval.n_ctx = 128;
        o.eval.n_batch = 128;
        o.eval.n_chunks = 2;
        o.eval.n_threads = 2;
        o.eval.flash_attn = false;
        o.dataset = "genesis-kjv.txt";
        const tools::Imatrix m = tools::compute_imatrix(*model, tools::perplexity_tokens(*model, text), o, nullptr);
        tools::write_imatrix(m, path.string(), tools::ImatrixFormat::Gguf);
        EXPECT_EQ(file_sha256(path.string()), reference()["imatrix_sha256"]) << path << " differs from llama-imatrix's";
    }
    dir = d;
    return d;
}

// natter quantize --pure --imatrix smollm2.imatrix.gguf <F32 source> OUT TYPE, from the
// matrix's directory (so the file records that name, as llama.cpp's did), cached.
std::string our_file(const std::string& type) {
    const std::string source = f32_source();
    const std::string out = (imatrix_dir() / "ours" / ("smollm2-" + lower(type) + "-pure-imatrix.gguf")).string();
    fs::create_directories(fs::path(out).parent_path());
    const json& ref = reference()["types"][type];
    if (file_sha256(out) == ref["natter_sha256"]) return out;  // made by an earlier run
    in_directory(imatrix_dir(), [&] {
        tools::QuantizeOptions o{source, out, tools::parse_file_type(type), true, true, 2,
                                 reference()["imatrix"].get<std::string>()};
        tools::quantize_model(o, nullptr);
    });
    return out;
}

class Iq2Quantize : public ::testing::TestWithParam<std::string> {};

TEST_P(Iq2Quantize, SameTensorBytesAsLlamaQuantize) {
    const std::string type = GetParam();
    const json& ref = reference()["types"][type];
    const GgufFile ours = GgufFile::open(our_file(type));
    EXPECT_EQ(ours.get_int("general.file_type", -1), ref["ftype"].get<int>());
    ASSERT_EQ(ours.tensors().size(), ref["tensors"].size());
    int identical = 0, of_type = 0;
    for (const GgufTensor& t : ours.tensors()) {
        const json& r = ref["tensors"][t.name];
        ASSERT_FALSE(r.is_null()) << t.name;
        EXPECT_EQ(type_name(t.type), r[0].get<std::string>()) << t.name;
        const bool same = sha256_hex({t.data, t.nbytes}).substr(0, 16) == r[1].get<std::string>();
        EXPECT_TRUE(same) << type << " " << t.name << ": tensor bytes differ from llama-quantize's";
        identical += same;
        of_type += t.type == *tools::parse_file_type(type).base;
    }
    EXPECT_EQ(of_type, 30) << "every ffn_down is " << type << "'s base type";
    std::cout << "[  bytes ] " << type << ": " << identical << "/" << ours.tensors().size()
              << " tensors byte-identical to llama-quantize --pure --imatrix\n";
}

// llama.cpp ran on the file natter writes (its sha256 recorded): natter's greedy tokens are
// llama.cpp's (a divergence only where llama.cpp is at a near-tie).
TEST_P(Iq2Quantize, LlamaCppRunsOurFile) {
    const std::string type = GetParam();
    const json& ref = reference()["types"][type];
    const std::string path = our_file(type);
    ASSERT_EQ(file_sha256(path), ref["natter_sha256"].get<std::string>()) << path << " is not the file llama.cpp ran on";
    expect_greedy_tokens(*Model::load(path), ref["greedy"], type + "/" + ref["greedy"]["name"].get<std::string>());
}

// The file types: IQ2_S's tensors are IQ2_XS, IQ2_M's IQ2_S (llama.cpp's default types).
INSTANTIATE_TEST_SUITE_P(Types, Iq2Quantize, ::testing::Values("IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M"),
                         [](const auto& info) { return info.param; });

// Random rows, with an importance matrix: dequantizing gives values near the input (these
// types keep about 1.5-2.5 bits a weight: the bound is on the squared error relative to the
// row's, a little above what each type gives), and the
// quantizer is a function of its input (the grid search tables are built once, from any
// thread).
TEST(Iq2Quantize, DequantizeRoundTrip) {
    constexpr int64_t n = 4 * 256;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(n), qw(n);
    for (float& v : x) v = normal(rng);
    for (float& v : qw) v = 0.5f + std::fabs(normal(rng));
    const std::pair<GgmlType, double> bound[] = {
        {GgmlType::IQ2_XXS, 0.15}, {GgmlType::IQ2_XS, 0.12}, {GgmlType::IQ2_S, 0.09},  // measured 0.12, 0.091, 0.062
        {GgmlType::IQ1_S, 0.30},   {GgmlType::IQ1_M, 0.27},                            // 0.25, 0.22
    };
    for (const auto& [type, max_rel_mse] : bound) {
        std::vector<uint8_t> q(row_size(type, n)), again(q.size());
        ASSERT_TRUE(quantize_row_imatrix(type, x.data(), qw.data(), q.data(), n)) << type_name(type);
        quantize_row_imatrix(type, x.data(), qw.data(), again.data(), n);
        EXPECT_EQ(q, again) << type_name(type);
        std::vector<float> y(n);
        dequantize_row(type, q.data(), y.data(), n);
        double err = 0, norm = 0;
        for (int64_t i = 0; i < n; ++i) {
            err += (x[i] - y[i]) * (x[i] - y[i]);
            norm += x[i] * x[i];
        }
        EXPECT_LT(err / norm, max_rel_mse) << type_name(type);
        std::cout << "[  error ] " << type_name(type) << ": relative squared error " << err / norm << "\n";
        EXPECT_GT(err / norm, 0.0) << type_name(type);
        // An all-zero row is all-zero blocks.
        std::vector<float> zeros(n, 0.0f), back(n, 1.0f);
        quantize_row_imatrix(type, zeros.data(), qw.data(), q.data(), n);
        dequantize_row(type, q.data(), back.data(), n);
        EXPECT_EQ(back, zeros) << type_name(type);
    }
}

// IQ2_S and IQ1_M have llama.cpp's weights without a matrix; the three others have no
// quantizer without one (llama.cpp asserts): one sentence saying so.
TEST(Iq2Quantize, WithoutImportanceMatrix) {
    std::vector<float> x(256);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
    for (const GgmlType type : {GgmlType::IQ2_S, GgmlType::IQ1_M}) {
        std::vector<uint8_t> q(row_size(type, 256));
        EXPECT_NO_THROW(quantize_row(type, x.data(), q.data(), 256)) << type_name(type);
    }
    for (const GgmlType type : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ1_S}) {
        std::vector<uint8_t> q(row_size(type, 256));
        try {
            quantize_row(type, x.data(), q.data(), 256);
            ADD_FAILURE() << type_name(type) << " was made without an importance matrix";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "Cannot quantize to " + std::string(type_name(type)) +
                                                 " without an importance matrix (llama.cpp's quantizer needs one for it too).");
        }
    }
}

TEST(Iq2Quantize, RowsNotAMultipleOf256AreRefused) {
    std::vector<float> x(288, 0.25f), qw(288, 1.0f);
    std::vector<uint8_t> q(1024);
    for (const GgmlType type : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ1_S, GgmlType::IQ1_M}) {
        try {
            quantize_row_imatrix(type, x.data(), qw.data(), q.data(), 288);
            ADD_FAILURE() << type_name(type) << " accepted a row of 288";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "A row of 288 elements cannot be stored as " + std::string(type_name(type)) +
                                                 ", whose blocks hold 256 elements.");
        }
    }
}

// llama.cpp exempts the token embedding and the output from its need for a matrix, but
// IQ2_XXS, IQ2_XS and IQ1_S have no quantizer without one: natter quantize refuses such a tensor
// that the matrix does not cover before any work, in one sentence (llama.cpp asserts).
TEST(Iq2Quantize, TensorsTheMatrixDoesNotCoverAreRefused) {
    const fs::path out = fs::temp_directory_path() / ("natter-iq2-" + std::to_string(::getpid()) + ".gguf");
    const std::string matrix = std::string(NATTER_REFERENCE_DIR) + "/imatrix/qwen2-random-q8_0.imatrix.gguf";
    for (const char* type : {"IQ2_XXS", "IQ2_XS", "IQ1_S"}) {
        tools::QuantizeOptions o{std::string(NATTER_TEST_DATA_DIR) + "/models/qwen2-random-q8_0.gguf", out.string(),
                                 tools::parse_file_type(type), true, true, 2, matrix};
        try {
            tools::quantize_model(o, nullptr);
            ADD_FAILURE() << type << " was made without importance values for output.weight";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), std::string(type) +
                                                 " cannot be made without an importance matrix (llama.cpp's quantizer"
                                                 " needs one too): " + matrix + " has no values for output.weight");
        }
        EXPECT_FALSE(fs::exists(out));
    }
}

}  // namespace
}  // namespace natter::test
