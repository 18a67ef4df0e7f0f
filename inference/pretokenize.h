#pragma once
// Pre-tokenizers of byte-level BPE vocabularies: the regex splits that cut text into words
// before merging, one family per `tokenizer.ggml.pre` value. The regexes are implemented
// by hand over Unicode classes, following llama.cpp's reading of each one exactly (the
// ids must match), and in linear time.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

enum class PreTokenizer {
    Gpt2,           // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Starcoder,      // each \p{N} alone, then Gpt2 (smollm, starcoder, refact, command-r, ...)
    Llama3,         // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
    Qwen2,          // Llama3 with single digits
    Qwen35,         // Qwen2 with marks (\p{M}) counted as letters
    Falcon,         // punctuation runs, then Gpt2, then groups of three ASCII digits
    DeepseekCoder,  // [\r\n], \s?\p{L}+, \s?\p{P}+, CJK runs, each \p{N}
    Default,        // llama.cpp's fallback: punctuation runs, Gpt2, \p{N}+, [0-9]{3}
};

// What a `tokenizer.ggml.pre` value implies, as llama.cpp reads it.
struct PreTokenizerConfig {
    PreTokenizer type = PreTokenizer::Default;
    bool ignore_merges = false;  // a word that is itself a token is taken whole
    bool add_bos = false;        // default for tokenizer.ggml.add_bos_token
    bool no_bos = false;         // the family has no BOS token (GLM)
};

// The configuration for a `tokenizer.ggml.pre` value ("" means "default"), or nullopt for
// a family we do not implement.
std::optional<PreTokenizerConfig> pre_tokenizer_for(std::string_view name);

// Splits text into words. Malformed UTF-8 becomes U+FFFD, as in llama.cpp, so the words
// are always valid UTF-8 and their concatenation equals the (repaired) text.
std::vector<std::string> pre_tokenize(PreTokenizer type, std::string_view text);

}  // namespace natter
