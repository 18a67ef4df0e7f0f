#pragma once
// Tokenizers loaded once per test program, and the files they come from.
#include <map>
#include <string>

#include "core/paths.h"
#include "inference/gguf.h"
#include "inference/tokenizer.h"

namespace natter::test {

inline std::string data_path(const std::string& name) { return std::string(NATTER_TEST_DATA_DIR) + "/" + name; }
inline std::string reference_path(const std::string& name) { return std::string(NATTER_REFERENCE_DIR) + "/" + name; }
// The default model (scripts/setup fetches it); a test that needs it fails when it is missing.
inline std::string smollm2_path() { return paths::default_model().string(); }

inline const Tokenizer& load_cached(const std::string& path) {
    static std::map<std::string, Tokenizer> cache;
    auto it = cache.find(path);
    if (it == cache.end()) it = cache.emplace(path, Tokenizer::from_gguf(GgufFile::open(path))).first;
    return it->second;
}

inline const Tokenizer& llama_spm() { return load_cached(data_path("tokenizer/ggml-vocab-llama-spm.gguf")); }
inline const Tokenizer& gpt2() { return load_cached(data_path("tokenizer/ggml-vocab-gpt-2.gguf")); }
inline const Tokenizer& stories260k() { return load_cached(data_path("models/stories260K.gguf")); }
inline const Tokenizer& smollm2() { return load_cached(smollm2_path()); }

}  // namespace natter::test
