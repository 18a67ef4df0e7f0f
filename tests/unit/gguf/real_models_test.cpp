// Real GGUF files read by our reader must match what the Python `gguf` package read from
// them (tests/reference/gguf_expectations.json, made by make_gguf_expectations.py).
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "core/paths.h"
#include "gguf_test_util.h"

namespace natter::test {
namespace {

using Json = nlohmann::json;

// "data:models/x.gguf" -> tests/data; "models:x.gguf" -> the model cache.
std::filesystem::path resolve(const std::string& name) {
    const size_t colon = name.find(':');
    const std::string where = name.substr(0, colon);
    const std::string rest = name.substr(colon + 1);
    return where == "data" ? std::filesystem::path(NATTER_TEST_DATA_DIR) / rest : paths::model_cache_dir() / rest;
}

Json expectations() {
    std::ifstream in(std::filesystem::path(NATTER_REFERENCE_DIR) / "gguf_expectations.json");
    return Json::parse(in);
}

// FNV-1a over the items as the file encodes them, like make_gguf_expectations.py.
uint64_t fnv1a(const GgufArray& array) {
    uint64_t h = 0xCBF29CE484222325ull;
    const auto mix = [&](const void* data, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 0x100000001B3ull;
    };
    for (const GgufValue& item : array.items) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::string>) {
                    const uint64_t n = x.size();
                    mix(&n, 8);
                    mix(x.data(), x.size());
                } else if constexpr (std::is_same_v<T, bool>) {
                    const uint8_t b = x;
                    mix(&b, 1);
                } else if constexpr (std::is_arithmetic_v<T>) {
                    mix(&x, sizeof x);
                } else {
                    ADD_FAILURE() << "nested arrays are not in the expectations";
                }
            },
            item.value);
    }
    return h;
}

// Compares one value with its JSON rendering by the Python reader.
void expect_value(const GgufValue& v, const Json& expected) {
    switch (v.type()) {
        case GgufType::STRING:
            ASSERT_TRUE(expected.is_string()) << "the expectation holds raw bytes: " << expected;
            EXPECT_EQ(v.as_string(), expected.get<std::string>());
            break;
        case GgufType::BOOL: EXPECT_EQ(v.as_bool(), expected.get<bool>()); break;
        case GgufType::FLOAT32: EXPECT_EQ(static_cast<float>(v.as_float()), expected.get<float>()); break;
        case GgufType::FLOAT64: EXPECT_EQ(v.as_float(), expected.get<double>()); break;
        case GgufType::UINT64: EXPECT_EQ(v.as_uint(), expected.get<uint64_t>()); break;
        default: EXPECT_EQ(v.as_int(), expected.get<int64_t>()); break;
    }
}

std::string hex(const uint8_t* p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

void expect_metadata(const GgufFile& file, const Json& expected) {
    ASSERT_EQ(file.metadata().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const auto& [key, value] = file.metadata()[i];
        const Json& e = expected[i];
        SCOPED_TRACE(key);
        EXPECT_EQ(key, e["key"].get<std::string>());
        EXPECT_EQ(gguf_type_name(value.type()), e["type"].get<std::string>());
        if (value.type() != GgufType::ARRAY) {
            expect_value(value, e["value"]);
            continue;
        }
        const GgufArray& array = value.as_array();
        EXPECT_EQ(gguf_type_name(array.element_type), e["element_type"].get<std::string>());
        ASSERT_EQ(array.items.size(), e["count"].get<size_t>());
        for (size_t k = 0; k < e["first"].size(); ++k) expect_value(array.items[k], e["first"][k]);
        if (!array.items.empty()) expect_value(array.items.back(), e["last"]);
        char h[17];
        std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(fnv1a(array)));
        EXPECT_EQ(std::string(h), e["fnv1a"].get<std::string>());
    }
}

void expect_tensors(const GgufFile& file, const Json& expected) {
    ASSERT_EQ(file.tensors().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const GgufTensor& t = file.tensors()[i];
        const Json& e = expected[i];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, e["name"].get<std::string>());
        EXPECT_EQ(static_cast<uint32_t>(t.type), e["type"].get<uint32_t>());
        EXPECT_EQ(type_name(t.type), e["type_name"].get<std::string>());
        EXPECT_EQ(t.shape, e["shape"].get<std::vector<int64_t>>());
        EXPECT_EQ(t.offset, e["offset"].get<uint64_t>());
        EXPECT_EQ(t.nbytes, e["nbytes"].get<size_t>());
        EXPECT_EQ(t.n_elements(), e["n_elements"].get<int64_t>());
        ASSERT_GE(t.nbytes, 16u);
        EXPECT_EQ(hex(t.data, 16), e["head"].get<std::string>());
        EXPECT_EQ(hex(t.data + t.nbytes - 16, 16), e["tail"].get<std::string>());
        uint64_t sum = 0;
        for (size_t k = 0; k < t.nbytes; ++k) sum += t.data[k];
        EXPECT_EQ(sum, e["byte_sum"].get<uint64_t>());
    }
}

class RealFile : public ::testing::TestWithParam<std::string> {};

TEST_P(RealFile, MatchesThePythonGgufPackage) {
    const Json all = expectations();
    const Json& e = all.at(GetParam());
    const std::filesystem::path path = resolve(GetParam());
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (scripts/setup fetches the default model)";
    const GgufFile file = GgufFile::open(path.string());
    EXPECT_EQ(file.version(), e["version"].get<uint32_t>());
    EXPECT_EQ(file.file_size(), e["file_size"].get<uint64_t>());
    EXPECT_EQ(file.alignment(), e["alignment"].get<uint64_t>());
    EXPECT_EQ(file.data_offset(), e["data_offset"].get<uint64_t>());
    expect_metadata(file, e["metadata"]);
    expect_tensors(file, e["tensors"]);
}

INSTANTIATE_TEST_SUITE_P(Files, RealFile,
                         ::testing::Values("data:models/stories260K.gguf", "data:tokenizer/ggml-vocab-gpt-2.gguf",
                                           "models:SmolLM2-135M-Instruct.Q4_1.gguf"),
                         [](const auto& info) {
                             std::string name = info.param.substr(info.param.rfind('/') + 1);
                             name = name.substr(name.find(':') + 1);
                             for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             return name;
                         });

// A few facts read off the files by hand, as a check on the expectations themselves.
TEST(RealFile, KnownFacts) {
    const GgufFile stories = GgufFile::open(std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf");
    EXPECT_EQ(stories.get_string("general.architecture", ""), "llama");
    EXPECT_EQ(stories.get_int("llama.embedding_length", 0), 64);
    EXPECT_EQ(stories.get_int("llama.block_count", 0), 5);
    EXPECT_EQ(stories.get("tokenizer.ggml.tokens").as_string_array().at(1), "<s>");
    EXPECT_FLOAT_EQ(static_cast<float>(stories.get_float("llama.attention.layer_norm_rms_epsilon", 0)), 1e-5f);
    const GgufTensor* embd = stories.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
    EXPECT_EQ(embd->rows(), 512);
}

}  // namespace
}  // namespace natter::test
