// Bad checkpoints for natter convert: each is one clear sentence naming the file and the
// problem, and nothing is left behind (neither the output nor its temporary file).
#include <cstdint>
#include <filesystem>
#include <functional>

#include "tools/convert.h"
#include "tools/safetensors.h"
#include "tools/sentencepiece_model.h"
#include "unit/convert/convert_test_util.h"
#include "unit/gguf/gguf_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A copy of a committed checkpoint that a test may spoil.
fs::path copy_checkpoint(const ScratchDir& dir, const std::string& name) {
    const fs::path to = dir / name;
    fs::copy(checkpoint_dir(name), to, fs::copy_options::recursive);
    return to;
}

json read_json(const fs::path& p) {
    std::ifstream in(p);
    return json::parse(in);
}

void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(1); }

// A safetensors file's header and data section.
struct Safetensors {
    json header;
    std::string data;

    static Safetensors read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
    }
    void write(const fs::path& p) const {
        const std::string h = header.dump();
        const uint64_t n = h.size();
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(&n), 8);
        out << h << data;
    }
};

// Converts, expecting a natter::Error that contains `part`, and checks nothing is left.
void expect_failure(const ScratchDir& dir, const fs::path& checkpoint, const std::string& part) {
    const std::string out = (dir / "out.gguf").string();
    try {
        tools::convert_checkpoint({checkpoint.string(), out, tools::OutType::F16}, nullptr);
        ADD_FAILURE() << "the conversion succeeded but should fail with: " << part;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out + ".tmp"));
}

void edit_header(const fs::path& ck, const std::function<void(json&)>& edit) {
    Safetensors st = Safetensors::read(ck / "model.safetensors");
    edit(st.header);
    st.write(ck / "model.safetensors");
}

void edit_config(const fs::path& ck, const std::function<void(json&)>& edit) {
    json config = read_json(ck / "config.json");
    edit(config);
    write_json(ck / "config.json", config);
}

// One spoiled copy of a committed checkpoint and the words its error must have.
struct BadCheckpoint {
    const char* name;
    const char* checkpoint;
    std::function<void(const fs::path&)> spoil;
    std::string error;
};

const BadCheckpoint kBad[] = {
    {"TruncatedSafetensors", "llama",
     [](const fs::path& ck) { fs::resize_file(ck / "model.safetensors", fs::file_size(ck / "model.safetensors") - 1000); },
     "of the data, but the file holds 557336 (is it truncated?)"},
    {"TruncatedHeader", "llama", [](const fs::path& ck) { fs::resize_file(ck / "model.safetensors", 100); },
     "model.safetensors is truncated or not safetensors: its header claims"},
    {"ShapeThatConfigDoesNotGive", "llama",
     [](const fs::path& ck) { edit_config(ck, [](json& c) { c["intermediate_size"] = 96; }); },
     "tensor 'model.layers.0.mlp.down_proj.weight' has shape [64, 128], but config.json's sizes make it [64, 96]"},
    {"MissingTensor", "llama",
     [](const fs::path& ck) { edit_header(ck, [](json& h) { h.erase("model.layers.1.mlp.up_proj.weight"); }); },
     "the checkpoint lacks the tensor that becomes blk.1.ffn_up.weight"},
    {"UnknownDtype", "llama",
     [](const fs::path& ck) { edit_header(ck, [](json& h) { h["model.norm.weight"]["dtype"] = "F8_E4M3"; }); },
     "tensor 'model.norm.weight' has dtype F8_E4M3; natter converts F32, F16 and BF16 tensors"},
    {"BytesThatDoNotMatchTheShape", "llama",
     [](const fs::path& ck) { edit_header(ck, [](json& h) { h["model.norm.weight"]["shape"] = {32}; }); },
     "tensor 'model.norm.weight' has 256 bytes, but its shape [32] of F32 needs 128"},
    {"TensorWithNoPlace", "llama",
     [](const fs::path& ck) {
         edit_header(ck, [](json& h) { h["model.layers.0.self_attn.rotary_proj.weight"] = h["model.norm.weight"]; });
     },
     "tensor 'model.layers.0.self_attn.rotary_proj.weight' has no place in a llama model of 2 layers"},
    {"IndexNamesAMissingShard", "llama3", [](const fs::path& ck) { fs::remove(ck / "model-00002-of-00002.safetensors"); },
     "model.safetensors.index.json names shard model-00002-of-00002.safetensors"},
    {"IndexPutsATensorInTheWrongShard", "llama3",
     [](const fs::path& ck) {
         json index = read_json(ck / "model.safetensors.index.json");
         index["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors";
         write_json(ck / "model.safetensors.index.json", index);
     },
     "puts tensor 'model.norm.weight' in model-00001-of-00002.safetensors, which does not hold it"},
    {"PickleIsRefusedWithWhatToDo", "llama",
     [](const fs::path& ck) {
         fs::remove(ck / "model.safetensors");
         std::ofstream(ck / "pytorch_model.bin") << "PK\x03\x04 not to be unpickled";
     },
     "holds a pickled PyTorch checkpoint (pytorch_model.bin), which natter does not load because unpickling can run "
     "code; save it as safetensors first"},
    {"UnknownArchitecture", "llama",
     [](const fs::path& ck) { edit_config(ck, [](json& c) { c["architectures"] = {"GPT2LMHeadModel"}; }); },
     "config.json: architecture GPT2LMHeadModel is not one natter converts"},
    {"ConfigThatIsNotJson", "llama", [](const fs::path& ck) { std::ofstream(ck / "config.json") << "{\"architectures\": ["; },
     "config.json is not valid JSON"},
    {"NoVocabulary", "llama", [](const fs::path& ck) { fs::remove(ck / "tokenizer.model"); },
     "has neither tokenizer.model nor tokenizer.json"},
    {"NotSentencePiece", "llama",
     [](const fs::path& ck) { std::ofstream(ck / "tokenizer.model", std::ios::trunc) << "\x0a\x7f" << "short"; },
     "tokenizer.model is not a valid SentencePiece model: a field of 127 bytes runs past the end"},
};

class ConvertErrors : public ::testing::TestWithParam<BadCheckpoint> {};

TEST_P(ConvertErrors, OneSentenceAndNothingLeft) {
    ScratchDir dir;
    const fs::path ck = copy_checkpoint(dir, GetParam().checkpoint);
    GetParam().spoil(ck);
    expect_failure(dir, ck, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, ConvertErrors, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

// The two binary readers on every prefix of a real file: each is read whole or refused with
// natter::Error, never a crash (under ASan too) or another exception.
TEST(ConvertError, EveryTruncatedTokenizerModelIsRefused) {
    ScratchDir dir;
    std::ifstream in(checkpoint_dir("llama") + "/tokenizer.model", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const fs::path p = dir / "tokenizer.model";
    int refused = 0;
    for (size_t n = 0; n < bytes.size(); n += 7) {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes.substr(0, n);
        try {
            tools::read_sentencepiece_model(p.string());
        } catch (const Error&) {
            ++refused;
        }
    }
    EXPECT_GT(refused, 0);
    EXPECT_EQ(tools::read_sentencepiece_model(checkpoint_dir("llama") + "/tokenizer.model").size(), 512u);
}

TEST(ConvertError, EveryTruncatedSafetensorsIsRefused) {
    ScratchDir dir;
    const fs::path ck = copy_checkpoint(dir, "llama");
    std::ifstream in(ck / "model.safetensors", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t n = 0; n + 1 < bytes.size(); n += n < 4096 ? 13 : 9973) {
        std::ofstream(ck / "model.safetensors", std::ios::binary | std::ios::trunc) << bytes.substr(0, n);
        EXPECT_THROW(tools::Checkpoint::open(ck.string()), Error) << n << " bytes";
    }
}

// A byte-level BPE vocabulary of no known family: llama.cpp's converter refuses it and prints
// its check-text hash (tests/reference/convert/bpe-unknown.json); natter names the same hash.
TEST(ConvertError, UnknownPreTokenizerNamesTheHash) {
    ScratchDir dir;
    const fs::path ck = copy_checkpoint(dir, "llama");
    fs::remove(ck / "tokenizer.model");
    fs::copy(checkpoint_dir("bpe-unknown-tokenizer.json"), ck / "tokenizer.json");
    write_json(ck / "tokenizer_config.json", json{{"tokenizer_class", "PreTrainedTokenizerFast"}});
    const std::string hash = convert_reference("bpe-unknown")["chkhsh"];
    expect_failure(dir, ck, "tokenizer.json: the BPE pre-tokenizer is not one natter knows (the check text's token ids hash to " + hash);
}

TEST(ConvertError, OutputFolderMissing) {
    ScratchDir dir;
    const std::string out = (dir / "no-such-folder" / "out.gguf").string();
    try {
        tools::convert_checkpoint({checkpoint_dir("llama"), out, tools::OutType::F32}, nullptr);
        ADD_FAILURE() << "wrote into a missing folder";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot create " + out + ".tmp"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir / "no-such-folder"));
}

TEST(ConvertError, NotAFolder) {
    ScratchDir dir;
    expect_failure(dir, dir / "nothing-here", "nothing-here is not a folder; give the folder of a Hugging Face checkpoint");
}

}  // namespace
}  // namespace natter::test
