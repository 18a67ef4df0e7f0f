#pragma once
// Inside natter convert: a Hugging Face checkpoint folder's JSON files, read once, and the
// pieces of the conversion that read them (hyper-parameters, general.* naming, vocabulary).
// Each follows llama.cpp's convert_hf_to_gguf.py, whose output natter's must equal.
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "inference/gguf.h"

namespace natter::tools {

struct HfModel {
    std::filesystem::path dir;
    std::string hf_arch;             // config.json's architectures[0]
    std::string arch;                // the GGUF architecture: llama, qwen2, qwen3, gemma3, phi3
    nlohmann::json config;           // config.json, with text_config merged in (the hparams)
    nlohmann::json raw_config;       // config.json as it is
    nlohmann::json rope;             // rope parameters as TextModel gathers them
    nlohmann::json tokenizer_config; // null when absent (as the three below)
    nlohmann::json tokenizer_json;
    nlohmann::json generation_config;

    // Reads the folder's JSON files; throws natter::Error naming a file that is not JSON, a
    // missing config.json or an architecture natter does not convert.
    static HfModel load(const std::filesystem::path& dir);

    // The value of the first of keys that config has (which may be null), or nullptr.
    const nlohmann::json* find(std::initializer_list<const char*> keys) const;
    // The same, but a missing or non-numeric key is an error naming config.json and the key.
    int64_t require_int(std::initializer_list<const char*> keys) const;
    std::string file(const char* name) const { return (dir / name).string(); }
};

// A number from JSON as GGUF stores hyper-parameters: integers as UINT32, floats as FLOAT32.
GgufValue u32(int64_t v);
GgufValue f32(double v);
GgufValue str(std::string v);

// The GGUF architecture llama.cpp converts an HF architecture name to, or "" when natter
// does not convert it.
std::string gguf_architecture(const std::string& hf_arch);

// {arch}.* hyper-parameters and general.file_type, as the family's set_gguf_parameters.
void add_hyperparameters(const HfModel& m, uint32_t file_type, GgufWriter& w);
// general.* from generation_config.json, config.json's _name_or_path and the folder's name,
// as gguf-py's Metadata; total_params is what the GGUF's tensors hold.
void add_general_metadata(const HfModel& m, int64_t total_params, GgufWriter& w);
// tokenizer.* from tokenizer.model or tokenizer.json and the files beside them.
void add_vocabulary(const HfModel& m, GgufWriter& w);
// The number of tokens the vocabulary has (gemma3 drops embedding rows past it).
int64_t vocabulary_size(const HfModel& m);

}  // namespace natter::tools
