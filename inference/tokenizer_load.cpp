// Building a Tokenizer from GGUF metadata, with llama.cpp's defaults and its recognition
// of special tokens by their text (which GGUF files do not always mark).
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "inference/gguf.h"
#include "inference/tokenizer_vocab.h"
#include "inference/unicode.h"

namespace natter {

namespace {

using Vocab = Tokenizer::Vocab;
using namespace attr_bit;

uint8_t attr_bits_from_type(int64_t type) {
    switch (type) {  // llama_token_type: 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
        case 1: return kNormal;
        case 2: return kUnknown;
        case 3: return kControl;
        case 4: return kUserDefined;
        case 5: return kUnused;
        case 6: return kByte;
        default: return 0;  // undefined: renders as nothing, like llama.cpp
    }
}

const GgufValue* find_array(const GgufFile& file, std::string_view key, size_t min_size) {
    const GgufValue* value = file.find(key);
    if (value == nullptr) return nullptr;
    if (value->type() != GgufType::ARRAY || value->as_array().items.size() < min_size) {
        throw Error("The tokenizer metadata '" + std::string(key) +
                    "' is not an array of one entry per token.");
    }
    return value;
}

void load_tokens(const GgufFile& file, Vocab& vocab) {
    const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
    if (tokens == nullptr) throw Error("The model has no vocabulary (tokenizer.ggml.tokens).");
    vocab.texts = tokens->as_string_array();
    const size_t n = vocab.texts.size();
    if (n == 0 || n > size_t(INT32_MAX)) throw Error("The model's vocabulary is empty or too large.");

    vocab.scores.assign(n, 0.0f);
    if (const GgufValue* scores = find_array(file, "tokenizer.ggml.scores", n)) {
        vocab.scores = scores->as_float_array();
    }
    vocab.attrs.assign(n, kNormal);
    if (const GgufValue* types = find_array(file, "tokenizer.ggml.token_type", n)) {
        const std::vector<int64_t> t = types->as_int_array();
        for (size_t i = 0; i < n; ++i) vocab.attrs[i] = attr_bits_from_type(t[i]);
    }
    for (size_t i = 0; i < n; ++i) {
        if (vocab.texts[i].empty()) vocab.texts[i] = "[EMPTY_" + std::to_string(i) + "]";
    }
    vocab.index.build(vocab.texts);
}

// Each merge is "left right", split at the first space after the first byte; the first
// occurrence of a pair gives its rank.
void load_merges(const GgufFile& file, Vocab& vocab) {
    const GgufValue* merges = file.find("tokenizer.ggml.merges");
    if (merges == nullptr) throw Error("The BPE vocabulary has no merges (tokenizer.ggml.merges).");
    const std::vector<std::string> lines = merges->as_string_array();
    vocab.merge_rank_by_ids.reserve(lines.size());
    for (size_t rank = 0; rank < lines.size(); ++rank) {
        const std::string& line = lines[rank];
        const size_t space = line.find(' ', 1);
        const std::string_view left = space == std::string::npos ? "" : std::string_view(line).substr(0, space);
        const std::string_view right = space == std::string::npos ? "" : std::string_view(line).substr(space + 1);
        const int32_t l = vocab.find(left), r = vocab.find(right);
        if (l >= 0 && r >= 0) {
            vocab.merge_rank_by_ids.insert(l, r, int32_t(rank));
        } else {
            vocab.merge_rank_by_text.emplace(std::pair<std::string, std::string>(left, right), int32_t(rank));
        }
    }
}

void load_model_type(const GgufFile& file, Vocab& vocab) {
    const std::string model = file.get_string("tokenizer.ggml.model", "");
    if (model == "llama") {
        vocab.model = Vocab::Model::Spm;
        vocab.bos = 1, vocab.eos = 2, vocab.unk = 0;
        vocab.add_bos = true;
        vocab.add_space_prefix = true;
    } else if (model == "gpt2") {
        vocab.model = Vocab::Model::Bpe;
        const std::string pre = file.get_string("tokenizer.ggml.pre", "default");
        const auto config = pre_tokenizer_for(pre);
        if (!config) throw Error("The BPE pre-tokenizer '" + pre + "' is not supported.");
        vocab.pre = *config;
        vocab.bos = config->no_bos ? -1 : 11;  // llama.cpp's defaults, normally overridden
        vocab.eos = 11;
        vocab.add_bos = config->add_bos;
    } else if (model.empty()) {
        throw Error("The model has no tokenizer type (tokenizer.ggml.model).");
    } else {
        throw Error("The tokenizer type '" + model + "' is not supported (only llama and gpt2).");
    }
    vocab.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
}

// Special ids from metadata; an id out of range keeps the default (itself dropped when out
// of range), as llama.cpp does.
int32_t special_id(const GgufFile& file, const Vocab& vocab, std::string_view key, int32_t fallback) {
    if (fallback >= vocab.n()) fallback = -1;
    const GgufValue* value = file.find(key);
    if (value == nullptr || !value->is_integer()) return fallback;
    const int64_t id = value->as_int();
    return id >= 0 && id < vocab.n() ? int32_t(id) : fallback;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const GgufFile& file) {
    auto vocab = std::make_shared<Vocab>();
    load_model_type(file, *vocab);
    load_tokens(file, *vocab);
    if (vocab->model == Vocab::Model::Bpe) load_merges(file, *vocab);

    vocab->bos = special_id(file, *vocab, "tokenizer.ggml.bos_token_id", vocab->bos);
    vocab->eos = special_id(file, *vocab, "tokenizer.ggml.eos_token_id", vocab->eos);
    vocab->unk = special_id(file, *vocab, "tokenizer.ggml.unknown_token_id", vocab->unk);
    vocab->eot = special_id(file, *vocab, "tokenizer.ggml.eot_token_id", -1);
    vocab->eom = special_id(file, *vocab, "tokenizer.ggml.eom_token_id", -1);
    vocab->add_bos = file.get_bool("tokenizer.ggml.add_bos_token", vocab->add_bos);
    vocab->add_eos = file.get_bool("tokenizer.ggml.add_eos_token", vocab->add_eos);
    if (vocab->add_bos && vocab->bos < 0) throw Error("The model asks for a BOS token but has none.");
    if (vocab->add_eos && vocab->eos < 0) throw Error("The model asks for an EOS token but has none.");

    load_special_tokens(file, *vocab);
    return Tokenizer(std::move(vocab));
}

}  // namespace natter
