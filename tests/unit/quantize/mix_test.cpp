// Per-tensor type choice: file-type names and numbers as llama.cpp's quantize takes them,
// the mixes worked out by hand on small made-up models, and every choice on the default
// model against what llama.cpp's quantizer chose (tests/reference/quantize/choices.json).
#include <gtest/gtest.h>

#include <map>
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
}

// Every file type llama.cpp names, with its default type (llama_ftype_get_default_type).
TEST(QuantizeFileType, IqAndTernaryTypesAndTheirBaseTypes) {
    const std::map<std::string, std::pair<int, T>> expected = {
        {"IQ2_XXS", {19, T::IQ2_XXS}}, {"IQ2_XS", {20, T::IQ2_XS}}, {"Q2_K_S", {21, T::Q2_K}},
        {"IQ3_XS", {22, T::IQ3_S}},    {"IQ3_XXS", {23, T::IQ3_XXS}}, {"IQ1_S", {24, T::IQ1_S}},
        {"IQ3_S", {26, T::IQ3_S}},     {"IQ3_M", {27, T::IQ3_S}},     {"IQ2_S", {28, T::IQ2_XS}},
        {"IQ2_M", {29, T::IQ2_S}},     {"IQ1_M", {31, T::IQ1_M}},     {"TQ1_0", {36, T::TQ1_0}},
        {"TQ2_0", {37, T::TQ2_0}},
    };
    for (const auto& [name, number_and_base] : expected) {
        const FileType by_name = file_type(name);
        EXPECT_EQ(by_name.ftype, number_and_base.first) << name;
        EXPECT_EQ(by_name.base, number_and_base.second) << name;
        EXPECT_EQ(file_type(std::to_string(number_and_base.first)).name, name);
        EXPECT_NE(tools::file_type_names().find(name), std::string::npos) << name;
    }
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

// The IQ types' rules by hand, on 8 layers of 512 (ffn_down 1024): no fallbacks, no GQA.
TEST(QuantizeMix, IqThreeBitMixes) {
    const MixModel m = toy_model(8, 512, false);
    MixModel with = m;
    with.has_imatrix = true;
    const auto xxs = choose("IQ3_XXS", m), xxs_i = choose("IQ3_XXS", with), xs = choose("IQ3_XS", m),
               s3 = choose("IQ3_S", m), m3 = choose("IQ3_M", m);
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(xxs.at(blk(i, "attn_v.weight")), T::IQ3_S) << i;   // without a matrix
        EXPECT_EQ(xxs_i.at(blk(i, "attn_v.weight")), T::IQ3_XXS) << i;
        EXPECT_EQ(xxs.at(blk(i, "ffn_down.weight")), i < 1 ? T::Q4_K : T::Q3_K) << i;
        EXPECT_EQ(xxs_i.at(blk(i, "ffn_down.weight")), T::IQ3_XXS) << i;
        for (const char* n : {"attn_q.weight", "attn_k.weight"}) EXPECT_EQ(xxs.at(blk(i, n)), T::IQ2_S) << i;
        EXPECT_EQ(xxs.at(blk(i, "attn_output.weight")), T::IQ3_S) << i;
        EXPECT_EQ(xxs.at(blk(i, "ffn_up.weight")), T::IQ3_XXS) << i;
        // IQ3_XS: the middle layers' ffn_gate / ffn_up and every attn_q / attn_k take IQ3_XXS.
        const T middle = i >= 1 && i < 7 ? T::IQ3_XXS : T::IQ3_S;
        EXPECT_EQ(xs.at(blk(i, "ffn_gate.weight")), middle) << i;
        EXPECT_EQ(xs.at(blk(i, "ffn_up.weight")), middle) << i;
        for (const char* n : {"attn_q.weight", "attn_k.weight"}) EXPECT_EQ(xs.at(blk(i, n)), T::IQ3_XXS) << i;
        for (const char* n : {"attn_v.weight", "attn_output.weight", "ffn_down.weight"}) EXPECT_EQ(xs.at(blk(i, n)), T::IQ3_S) << i;
        for (const char* n : {"attn_v.weight", "attn_q.weight", "attn_output.weight", "ffn_down.weight"}) {
            EXPECT_EQ(s3.at(blk(i, n)), T::IQ3_S) << i;
        }
        EXPECT_EQ(m3.at(blk(i, "attn_v.weight")), T::Q4_K) << i;
        EXPECT_EQ(m3.at(blk(i, "attn_output.weight")), T::Q4_K) << i;
        EXPECT_EQ(m3.at(blk(i, "ffn_down.weight")), i < 1 ? T::Q4_K : T::IQ3_S) << i;
        EXPECT_EQ(m3.at(blk(i, "ffn_gate.weight")), T::IQ3_S) << i;
    }
    EXPECT_EQ(xxs.at("token_embd.weight"), T::Q5_K);  // tied: the output projection
    EXPECT_EQ(m3.at("token_embd.weight"), T::Q6_K);
    EXPECT_EQ(choose("IQ3_XXS", toy_model(2, 512, true)).at("token_embd.weight"), T::IQ3_S);
    // Grouped-query attention of 4 or more: attn_v Q4_K.
    for (const char* type : {"IQ3_XXS", "IQ3_XS", "IQ3_S"}) {
        EXPECT_EQ(choose(type, toy_model(2, 512, false, 8, 2)).at("blk.0.attn_v.weight"), T::Q4_K) << type;
    }
}

TEST(QuantizeMix, OneAndTwoBitMixes) {
    MixModel m = toy_model(8, 512, true);
    m.has_imatrix = true;
    for (const char* type : {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M"}) {
        const std::string t = type;
        const bool s_or_m = t == "IQ2_S" || t == "IQ2_M";
        const T base = file_type(type).base.value();
        const auto c = choose(type, m);
        EXPECT_EQ(c.at("output.weight"), T::Q5_K) << type;
        EXPECT_EQ(c.at("token_embd.weight"), s_or_m ? T::IQ3_S : T::Q2_K) << type;
        for (int i = 0; i < 8; ++i) {
            EXPECT_EQ(c.at(blk(i, "attn_v.weight")), s_or_m ? T::IQ3_S : T::Q2_K) << type << " " << i;
            EXPECT_EQ(c.at(blk(i, "ffn_down.weight")), i < 1 ? (s_or_m ? T::IQ3_S : T::Q2_K) : base) << type << " " << i;
            const T attn_output = t.starts_with("IQ1") ? T::IQ2_XXS : s_or_m ? T::IQ3_S : base;
            EXPECT_EQ(c.at(blk(i, "attn_output.weight")), attn_output) << type << " " << i;
            for (const char* n : {"attn_q.weight", "attn_k.weight", "ffn_gate.weight", "ffn_up.weight"}) {
                EXPECT_EQ(c.at(blk(i, n)), base) << type << " " << n;
            }
        }
        EXPECT_EQ(choose(type, toy_model(2, 512, false, 8, 2)).at("blk.0.attn_v.weight"), T::Q4_K) << type;
        // Rows of 576 do not fit a 256-element block: IQ4_NL.
        EXPECT_EQ(choose(type, toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::IQ4_NL) << type;
    }
    const auto q2s = choose("Q2_K_S", m);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(q2s.at(blk(i, "ffn_down.weight")), i < 1 ? T::Q4_K : T::Q2_K) << i;
    EXPECT_EQ(q2s.at("blk.0.attn_v.weight"), T::Q2_K);
    EXPECT_EQ(choose("Q2_K_S", toy_model(2, 512, false, 8, 2)).at("blk.0.attn_v.weight"), T::Q4_K);
    const auto tq = choose("TQ1_0", m);
    EXPECT_EQ(tq.at("token_embd.weight"), T::Q4_K);
    EXPECT_EQ(tq.at("output.weight"), T::Q6_K);
    EXPECT_EQ(tq.at("blk.0.ffn_down.weight"), T::TQ1_0);
    EXPECT_EQ(choose("TQ2_0", toy_model(2, 576, false)).at("blk.1.attn_q.weight"), T::Q4_0);
}

// The default model described as the F32 copy the references quantized.
MixModel default_model_as_f32(bool has_imatrix) {
    MixModel m = tools::describe_model(GgufFile::open(default_model_path()));
    for (MixTensor& t : m.tensors) t.type = T::F32;
    m.has_imatrix = has_imatrix;
    return m;
}

// Each file type of `types` (choices*.json) chooses llama.cpp's type for every tensor.
void expect_choices_as_reference(const nlohmann::json& types, bool has_imatrix) {
    const MixModel m = default_model_as_f32(has_imatrix);
    for (const auto& [type, ref] : types.items()) {
        EXPECT_EQ(ref["ftype"].get<int>(), file_type(type).ftype);
        if (ref.contains("refused")) continue;  // IqFileTypesWithoutAMatrixAreRefusedAsByLlamaCpp
        const auto c = choose(type, m);
        ASSERT_EQ(ref["tensors"].size(), c.size()) << type;
        int same = 0;
        for (const auto& [name, expected] : ref["tensors"].items()) {
            const std::string want = expected[0].get<std::string>();
            const std::string got(type_name(c.at(name)));
            EXPECT_EQ(got, want) << type << (has_imatrix ? " (imatrix) " : " ") << name;
            same += got == want;
        }
        std::cout << "[ choices] " << type << (has_imatrix ? " with an imatrix: " : ": ") << same << "/" << c.size()
                  << " tensors as llama.cpp\n";
    }
}

// The IQ and ternary file types (and Q2_K_S) on the default model, with and without an
// importance matrix (tests/reference/quantize/choices-iq.json).
TEST(QuantizeMix, DefaultModelMatchesLlamaCppForEveryIqFileType) {
    const nlohmann::json doc = quantize_reference("choices-iq.json");
    ASSERT_EQ(doc["types"].size(), 13u);
    ASSERT_EQ(doc["types_imatrix"].size(), 13u);
    expect_choices_as_reference(doc["types"], false);
    expect_choices_as_reference(doc["types_imatrix"], true);
}

// Where llama.cpp refused a type without a matrix on the default model, natter does too (one
// sentence, before any work); where it made one, natter's rule lets it through.
TEST(QuantizeMix, IqFileTypesWithoutAMatrixAreRefusedAsByLlamaCpp) {
    const nlohmann::json doc = quantize_reference("choices-iq.json");
    const MixModel m = default_model_as_f32(false);
    int refused = 0;
    for (const auto& [type, ref] : doc["types"].items()) {
        const FileType ft = file_type(type);
        const std::vector<T> types = tools::choose_tensor_types(ft, false, m);
        bool needs = false;
        for (size_t i = 0; i < types.size(); ++i) {
            needs = needs || (tools::tensor_is_quantizable(m.tensors[i].name, m.tensors[i].n_dims) &&
                              tools::tensor_requires_imatrix(m.tensors[i].name, types[i], ft.ftype));
        }
        EXPECT_EQ(needs, ref.contains("refused")) << type;
        refused += needs;
    }
    EXPECT_EQ(refused, 7);  // IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, Q2_K_S
}

// Every tensor of the default model, every file type: the type llama.cpp chose.
TEST(QuantizeMix, DefaultModelMatchesLlamaCppForEveryFileType) {
    const nlohmann::json doc = quantize_reference("choices.json");
    ASSERT_EQ(doc["types"].size(), 19u);
    expect_choices_as_reference(doc["types"], false);
}

}  // namespace
}  // namespace natter::test
