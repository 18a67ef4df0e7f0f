// Special tokens: the ids llama.cpp finds by text when the metadata does not name them,
// the end-of-generation set, the list tokenize() matches inside text, and the pieces.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <initializer_list>

#include "inference/gguf.h"
#include "inference/tokenizer_vocab.h"
#include "inference/unicode.h"

namespace natter {

namespace {

using Vocab = Tokenizer::Vocab;
using namespace attr_bit;
using Texts = std::initializer_list<std::string_view>;

// The first of `texts` the vocabulary has, made a control token (llama.cpp overrides the
// type of such tokens, which converters sometimes leave normal).
int32_t detect_control(Vocab& vocab, Texts texts) {
    for (std::string_view text : texts) {
        const int32_t id = vocab.find(text);
        if (id >= 0) {
            vocab.attrs[size_t(id)] |= kControl;
            return id;
        }
    }
    return -1;
}

int32_t metadata_id(const GgufFile& file, const Vocab& vocab, std::initializer_list<std::string_view> keys) {
    int32_t id = -1;
    for (std::string_view key : keys) {
        const GgufValue* value = file.find(key);
        if (value && value->is_integer() && value->as_int() >= 0 && value->as_int() < vocab.n()) {
            id = int32_t(value->as_int());
        }
    }
    return id;
}

void detect_end_of_generation(const GgufFile& file, Vocab& vocab) {
    if (vocab.eot < 0) {
        vocab.eot = detect_control(vocab, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                           "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                                           "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"});
    }
    if (vocab.eom < 0) vocab.eom = detect_control(vocab, {"<|eom_id|>"});

    // FIM tokens: pad, repo and file separator end generation too.
    const std::string p = "tokenizer.ggml.";
    int32_t fim_pad = metadata_id(file, vocab, {p + "fim_pad_token_id"});
    int32_t fim_rep = metadata_id(file, vocab, {p + "fim_rep_token_id"});
    int32_t fim_sep = metadata_id(file, vocab, {p + "fim_sep_token_id"});
    if (metadata_id(file, vocab, {p + "prefix_token_id", p + "fim_pre_token_id"}) < 0) {
        detect_control(vocab, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>",
                               "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"});
    }
    if (metadata_id(file, vocab, {p + "suffix_token_id", p + "fim_suf_token_id"}) < 0) {
        detect_control(vocab, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>",
                               "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"});
    }
    if (metadata_id(file, vocab, {p + "middle_token_id", p + "fim_mid_token_id"}) < 0) {
        detect_control(vocab, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>",
                               "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"});
    }
    if (fim_pad < 0) fim_pad = detect_control(vocab, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
    if (fim_rep < 0) {
        fim_rep = detect_control(vocab, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
    }
    if (fim_sep < 0) fim_sep = detect_control(vocab, {"<|file_sep|>"});

    std::vector<int32_t> eog = {fim_pad, fim_rep, fim_sep, vocab.eos, vocab.eot, vocab.eom};
    for (std::string_view text :
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
          "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
          "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
          "<｜end▁of▁sentence｜>", "[e~["}) {
        eog.push_back(detect_control(vocab, {text}));
    }
    // Tokens gpt-oss shows as text.
    for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
        if (const int32_t id = vocab.find(text); id >= 0) vocab.attrs[size_t(id)] = kUserDefined;
    }
    auto has = [&](std::string_view text) {
        const int32_t id = vocab.find(text);
        return id >= 0 && std::find(eog.begin(), eog.end(), id) != eog.end();
    };
    auto drop = [&](std::string_view text, uint8_t new_attr) {
        const int32_t id = vocab.find(text);
        eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
        vocab.attrs[size_t(id)] = new_attr;
    };
    // Harmony / solar-open: <|end|> ends a message, not the generation.
    const bool has_call = has("<|call|>") || has("<|calls|>");
    if (has("<|end|>") && has_call && (has("<|return|>") || has("<|flush|>"))) drop("<|end|>", kUserDefined);
    // Gemma 4 / PLaMo: </s> is an ordinary token there.
    if (has("</s>") && (has("<|tool_response>") || has("<|plamo:eos|>"))) drop("</s>", kNormal);

    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
    eog.erase(std::remove(eog.begin(), eog.end(), -1), eog.end());
    vocab.eog = std::move(eog);
}

// Phi-3 strips the whitespace after its special tokens (llama.cpp sets this by model name).
void set_strip_flags(const GgufFile& file, Vocab& vocab) {
    std::string name = file.get_string("general.name", "");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
    for (int32_t id : vocab.special_by_length) vocab.attrs[size_t(id)] |= kRstrip;
    auto set = [&](std::string_view text, bool on) {
        const int32_t id = vocab.find(text);
        if (id < 0) return;
        if (on) vocab.attrs[size_t(id)] |= kRstrip;
        else vocab.attrs[size_t(id)] &= uint8_t(~kRstrip);
    };
    set("</s>", true);
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, false);
}

int parse_hex_byte(std::string_view text) {  // "<0xNN>"
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    auto digit = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int hi = digit(text[3]), lo = digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// GPT-2 byte-level text back to bytes. A character outside the byte alphabet is kept as it
// is (llama.cpp prints an [UNK_BYTE_...] marker instead).
std::string decode_byte_level(std::string_view text) {
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
        const char32_t cpt = unicode::decode_utf8(text, pos);
        const int byte = unicode::codepoint_to_byte(cpt);
        if (byte >= 0) out.push_back(char(byte));
        else unicode::append_utf8(out, cpt);
    }
    return out;
}

std::string piece_of(const Vocab& vocab, int32_t id) {
    const std::string& text = vocab.texts[size_t(id)];
    if (vocab.has(id, kUnknown | kControl | kUserDefined)) return text;
    if (vocab.has(id, kNormal)) {
        if (vocab.model == Vocab::Model::Bpe) return decode_byte_level(text);
        std::string out;
        for (size_t pos = 0; pos < text.size();) {  // SentencePiece writes spaces as U+2581
            if (text.compare(pos, 3, "\xE2\x96\x81") == 0) {
                out.push_back(' ');
                pos += 3;
            } else {
                out.push_back(text[pos++]);
            }
        }
        return out;
    }
    if (vocab.has(id, kByte)) {
        const int byte = parse_hex_byte(text);
        return byte < 0 ? std::string() : std::string(1, char(byte));
    }
    return {};  // unused or undefined tokens render as nothing
}

}  // namespace

void load_special_tokens(const GgufFile& file, Vocab& vocab) {
    detect_end_of_generation(file, vocab);

    for (int32_t id = 0; id < vocab.n(); ++id) {
        if (vocab.has(id, kControl | kUserDefined | kUnknown)) vocab.special_by_length.push_back(id);
    }
    std::stable_sort(vocab.special_by_length.begin(), vocab.special_by_length.end(),
                     [&](int32_t a, int32_t b) { return vocab.texts[size_t(a)].size() > vocab.texts[size_t(b)].size(); });
    set_strip_flags(file, vocab);

    vocab.pieces.resize(vocab.texts.size());
    for (int32_t id = 0; id < vocab.n(); ++id) vocab.pieces[size_t(id)] = piece_of(vocab, id);

    vocab.spm_words_are_independent = std::none_of(vocab.texts.begin(), vocab.texts.end(), [](const std::string& t) {
        for (size_t i = t.find("\xE2\x96\x81", 1); i != std::string::npos; i = t.find("\xE2\x96\x81", i + 1)) {
            if (i < 3 || t.compare(i - 3, 3, "\xE2\x96\x81") != 0) return true;
        }
        return false;
    });

    // SentencePiece byte fallback: <0xNN>, else the byte itself as a token, else <unk>.
    for (int b = 0; b < 256; ++b) {
        char hex[7];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = vocab.find(hex);
        if (id < 0) id = vocab.find(std::string(1, char(b)));
        vocab.spm_byte_tokens[size_t(b)] = id >= 0 ? id : vocab.unk;
    }
}

}  // namespace natter
