// Per-tensor type choice: file-type names and numbers as llama.cpp's quantize takes them,
// the mixes worked out by hand on small made-up models, and every choice on the default
// model against what llama.cpp's quantizer chose (tests/reference/quantize/choices.json).
#include <gtest/gtest.h>

#include <set>

#include "tools/quantize.h"
#include "tools/quantize_mix.h"
#include "core/error.h"
#include "unit/quantize/quantize_test_util.h"

namespace natter::test {
namespace {

using tools::MixModel;
using tools::MixTensor;
using T = GgmlType;

FileType file_type(std::string_view name) { return tools::parse_file_type(name); }

TEST(QuantizeFileType, NamesNumbersAndAliasesAsLlamaCpp) {
    EXPECT_EQ(file_type("Q4_K_M").ftype, 15);
    EXPECT_EQ(file_type("q4_k_m").ftype, 15);
    EXPECT_EQ(file_type("Q4_K").ftype, 15);  // llama.cpp's alias for Q4_K_M
    EXPECT_EQ(file_type("Q3_K").ftype, 12);
    EXPECT_EQ(file_type("Q5_K").ftype, 17);
    EXPECT_EQ(file_type("15").name, "Q4_K_M");
    EXPECT_EQ(file_type("7").name, "Q8_0");
    EXPECT_EQ(file_type("0").name, "F32");
    EXPECT_EQ(file_type("32").name, "BF16");
    EXPECT_EQ(file_type("11").base, T::Q3_K);
    EXPECT_EQ(file_type("Q5_1").base, T::Q5_1);
}

TEST(QuantizeFileType, UnknownAndUnofferedTypesAreClearErrors) {
    for (const char* bad : {"Q4_K_X", "q9", "", "15x", "4", "99"}) {
        try {
            file_type(bad);
            ADD_FAILURE() << "'" << bad << "' was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("choose one of F32, F16, Q4_0"), std::string::npos) << e.what();
        }
    }
    try {
        file_type("IQ2_XXS");
        ADD_FAILURE() << "IQ2_XXS was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("one of llama.cpp's, but natter does not make it"), std::string::npos);
    }
    EXPECT_THROW(file_type("21"), Error);  // Q2_K_S needs an importance matrix
}

// A llama-shaped model: n_layer layers, rows of `width` (ffn_down: 2*width).
MixModel toy_model(int n_layer, int64_t width, bool with_output, int n_head = 8, int n_head_kv = 8) {
    MixModel m{"llama", n_layer, n_head, n_head_kv, 0, {}};
    m.tensors.push_back({"token_embd.weight", T::F32, 2, width});
    m.tensors.push_back({"output_norm.weight", T::F32, 1, width});
    if (with_output) m.tensors.push_back({"output.weight", T::F32, 2, width});
    for (int i = 0; i < n_layer; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        for (const char* n : {"attn_norm.weight", "ffn_norm.weight"}) m.tensors.push_back({p + n, T::F32, 1, width});
        for (const char* n : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                              "ffn_gate.weight", "ffn_up.weight"}) {
            m.tensors.push_back({p + n, T::F32, 2, width});
        }
        m.tensors.push_back({p + "ffn_down.weight", T::F32, 2, 2 * width});
    }
    return m;
}

// name -> chosen type
std::map<std::string, T> choose(std::string_view type, const MixModel& m, bool pure = false) {
    const std::vector<T> types = tools::choose_tensor_types(file_type(type), pure, m);
    std::map<std::string, T> out;
    for (size_t i = 0; i < types.size(); ++i) out[m.tensors[i].name] = types[i];
    return out;
}

std::string blk(int layer, const char* name) { return "blk." + std::to_string(layer) + "." + name; }

// With 8 layers, "more bits" layers are the first eighth (0), the last eighth (7) and every
// third between: (i - 1) % 3 == 2, so 3 and 6.
const std::set<int> kMoreBits8 = {0, 3, 6, 7};

TEST(QuantizeMix, Q4KMGivesAttnVAndFfnDownMoreBitsInChosenLayers) {
    const auto c = choose("Q4_K_M", toy_model(8, 512, false));
    for (int i = 0; i < 8; ++i) {
        const T more = kMoreBits8.count(i) ? T::Q6_K : T::Q4_K;
        EXPECT_EQ(c.at(blk(i, "attn_v.weight")), more) << i;
        EXPECT_EQ(c.at(blk(i, "ffn_down.weight")), more) << i;
        EXPECT_EQ(c.at(blk(i, "attn_q.weight")), T::Q4_K);
        EXPECT_EQ(c.at(blk(i, "attn_k.weight")), T::Q4_K);
        EXPECT_EQ(c.at(blk(i, "attn_output.weight")), T::Q4_K);
        EXPECT_EQ(c.at(blk(i, "ffn_up.weight")), T::Q4_K);
        EXPECT_EQ(c.at(blk(i, "attn_norm.weight")), T::F32);  // norms are never quantized
    }
    EXPECT_EQ(c.at("token_embd.weight"), T::Q6_K);  // tied: it is also the output projection
    EXPECT_EQ(c.at("output_norm.weight"), T::F32);
}

TEST(QuantizeMix, SeparateOutputTakesQ6KAndEmbeddingsKeepTheBaseType) {
    const auto c = choose("Q4_K_M", toy_model(8, 512, true));
    EXPECT_EQ(c.at("output.weight"), T::Q6_K);
    EXPECT_EQ(c.at("token_embd.weight"), T::Q4_K);
    EXPECT_EQ(choose("Q8_0", toy_model(2, 512, true)).at("output.weight"), T::Q8_0);
    EXPECT_EQ(choose("Q4_0", toy_model(2, 512, true)).at("output.weight"), T::Q6_K);
    EXPECT_EQ(choose("Q4_0", toy_model(2, 512, true)).at("blk.1.ffn_down.weight"), T::Q4_0);
}

TEST(QuantizeMix, Q3KAndQ2KMixes) {
    const auto m = choose("Q3_K_M", toy_model(8, 512, false));
    const auto l = choose("Q3_K_L", toy_model(8, 512, false));
    const auto s = choose("Q3_K_S", toy_model(8, 512, false));
    const auto q2 = choose("Q2_K", toy_model(8, 512, false));
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(m.at(blk(i, "attn_v.weight")), i < 2 ? T::Q5_K : T::Q4_K) << i;
        EXPECT_EQ(m.at(blk(i, "ffn_down.weight")), T::Q4_K);  // 8/16 = 0 layers get Q5_K
        EXPECT_EQ(m.at(blk(i, "attn_output.weight")), T::Q4_K);
        EXPECT_EQ(m.at(blk(i, "attn_q.weight")), T::Q3_K);
        for (const char* n : {"attn_v.weight", "ffn_down.weight", "attn_output.weight"}) EXPECT_EQ(l.at(blk(i, n)), T::Q5_K);
        EXPECT_EQ(l.at(blk(i, "ffn_gate.weight")), T::Q3_K);
        for (const char* n : {"attn_v.weight", "ffn_down.weight", "attn_output.weight", "attn_k.weight"}) {
            EXPECT_EQ(s.at(blk(i, n)), T::Q3_K);
            EXPECT_EQ(q2.at(blk(i, n)), std::string(n) == "attn_k.weight" ? T::Q2_K : T::Q3_K);  // no GQA: Q3_K
        }
    }
    EXPECT_EQ(q2.at("token_embd.weight"), T::Q6_K);
    // With grouped-query attention of 4 or more, Q2_K gives attn_v Q4_K.
    EXPECT_EQ(choose("Q2_K", toy_model(2, 512, false, 8, 2)).at("blk.0.attn_v.weight"), T::Q4_K);
}

TEST(QuantizeMix, Q4KSAndQ5KM) {
    const auto s = choose("Q4_K_S", toy_model(8, 512, false));
    const auto m5 = choose("Q5_K_M", toy_model(8, 512, false));
    const auto s5 = choose("Q5_K_S", toy_model(8, 512, false));
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(s.at(blk(i, "attn_v.weight")), i < 4 ? T::Q5_K : T::Q4_K) << i;
        EXPECT_EQ(s.at(blk(i, "ffn_down.weight")), i < 1 ? T::Q5_K : T::Q4_K) << i;
        EXPECT_EQ(m5.at(blk(i, "attn_v.weight")), kMoreBits8.count(i) ? T::Q6_K : T::Q5_K) << i;
        EXPECT_EQ(m5.at(blk(i, "ffn_down.weight")), kMoreBits8.count(i) ? T::Q6_K : T::Q5_K) << i;
        EXPECT_EQ(s5.at(blk(i, "ffn_down.weight")), T::Q5_K);
    }
}

TEST(QuantizeMix, LayersCountInNumericOrderWhateverTheFileOrder) {
    // 16 layers stored in name order (blk.0, blk.1, blk.10, ...): "more bits" are 0, 1, 14, 15
    // and (i - 2) % 3 == 2: 4, 7, 10, 13.
    MixModel m = toy_model(16, 256, false);
    std::sort(m.tensors.begin(), m.tensors.end(), [](const MixTensor& a, const MixTensor& b) { return a.name > b.name; });
    const auto c = choose("Q4_K_M", m);
    const std::set<int> more = {0, 1, 4, 7, 10, 13, 14, 15};
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(c.at(blk(i, "attn_v.weight")), more.count(i) ? T::Q6_K : T::Q4_K) << i;
        EXPECT_EQ(c.at(blk(i, "ffn_down.weight")), more.count(i) ? T::Q6_K : T::Q4_K) << i;
    }
}

TEST(QuantizeMix, RowsThatDoNotFitAKQuantFallBack) {
    // 576 is a multiple of 32 but not of 256; 100 is neither.
    const auto c = choose("Q4_K_M", toy_model(8, 576, false));
    EXPECT_EQ(c.at("blk.1.attn_q.weight"), T::Q5_0);        // Q4_K -> Q5_0
    EXPECT_EQ(c.at("blk.0.attn_v.weight"), T::Q8_0);        // Q6_K -> Q8_0
    EXPECT_EQ(c.at("blk.1.ffn_down.weight"), T::Q5_0);      // 1152 is no multiple of 256 either
    EXPECT_EQ(c.at("blk.0.ffn_down.weight"), T::Q8_0);
    EXPECT_EQ(c.at("token_embd.weight"), T::Q8_0);          // output projection: Q8_0
    EXPECT_EQ(choose("Q3_K_S", toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::Q4_0);
    EXPECT_EQ(choose("Q2_K", toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::Q4_0);
    EXPECT_EQ(choose("Q5_K_S", toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::Q5_1);
    EXPECT_EQ(choose("Q6_K", toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::Q8_0);
    EXPECT_EQ(choose("Q4_0", toy_model(2, 100, false), true).at("blk.1.attn_q.weight"), T::F16);
}

TEST(QuantizeMix, PureAndFloatTypesGiveEveryWeightTheBaseType) {
    const auto pure = choose("Q4_K_M", toy_model(8, 512, false), true);
    const auto f16 = choose("F16", toy_model(8, 512, false));
    for (const auto& [name, type] : pure) {
        const bool norm = name.find("norm") != std::string::npos;
        EXPECT_EQ(type, norm ? T::F32 : T::Q4_K) << name;
        EXPECT_EQ(f16.at(name), norm ? T::F32 : T::F16) << name;
    }
}

TEST(QuantizeMix, SeventyBAndFalconRules) {
    MixModel big{"llama", 80, 64, 8, 0, {}};
    for (int i = 0; i < 80; ++i) big.tensors.push_back({blk(i, "attn_v.weight"), T::F32, 2, 1024});
    for (const T t : tools::choose_tensor_types(file_type("Q3_K_S"), false, big)) EXPECT_EQ(t, T::Q5_K);
    MixModel falcon = toy_model(2, 512, true);
    falcon.architecture = "falcon";
    const auto c = choose("Q4_K_M", falcon);
    EXPECT_EQ(c.at("output.weight"), T::Q8_0);
}

// Every tensor of the default model, every file type: the type llama.cpp chose.
TEST(QuantizeMix, DefaultModelMatchesLlamaCppForEveryFileType) {
    const nlohmann::json doc = quantize_reference("choices.json");
    MixModel m = tools::describe_model(GgufFile::open(default_model_path()));
    for (MixTensor& t : m.tensors) t.type = T::F32;  // the reference quantized the F32 copy
    ASSERT_EQ(doc["types"].size(), 19u);
    for (const auto& [type, ref] : doc["types"].items()) {
        const FileType ft = file_type(type);
        EXPECT_EQ(ref["ftype"].get<int>(), ft.ftype);
        const auto c = choose(type, m);
        ASSERT_EQ(ref["tensors"].size(), c.size()) << type;
        int same = 0;
        for (const auto& [name, expected] : ref["tensors"].items()) {
            const std::string want = expected[0].get<std::string>();
            const std::string got(type_name(c.at(name)));
            EXPECT_EQ(got, want) << type << " " << name;
            same += got == want;
        }
        std::cout << "[ choices] " << type << ": " << same << "/" << c.size() << " tensors as llama.cpp\n";
    }
}

}  // namespace
}  // namespace natter::test
