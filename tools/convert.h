#pragma once
// Hugging Face checkpoint -> GGUF, as llama.cpp's convert_hf_to_gguf.py does it (the same
// metadata, the same tensors byte for byte) for the families natter runs: llama (Llama 2/3,
// Mistral, SmolLM), qwen2, qwen3, gemma3, phi3. The safetensors stay memory-mapped and the
// output is made one tensor at a time while it is written (GgufWriter's streamed tensors), so
// memory stays near the largest tensor, not the model.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "quant/types.h"

namespace natter::tools {

enum class OutType { F32, F16, BF16, Q8_0 };
std::optional<OutType> parse_outtype(std::string_view name);  // f32, f16, bf16, q8_0
const char* outtype_name(OutType t);

struct ConvertOptions {
    std::string input_dir, output;
    OutType outtype = OutType::F16;
};

struct ConvertProgress {
    std::string_view tensor;
    int index = 0, count = 0;                  // tensor index / number of tensors
    uint64_t bytes_done = 0, bytes_total = 0;  // output bytes
};

struct ConvertSummary {
    std::string architecture;  // the GGUF one
    std::string hf_architecture;
    std::string vocabulary;    // "llama" (SentencePiece) or "gpt2" with its pre-tokenizer
    int64_t n_params = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    std::map<GgmlType, int> output_types;
    double seconds = 0;
};

// Throws natter::Error (one sentence) for a checkpoint natter cannot convert or that is
// inconsistent; on any failure no output file is left behind. progress is called from the
// calling thread for each tensor as it is written.
ConvertSummary convert_checkpoint(const ConvertOptions& options,
                                  const std::function<void(const ConvertProgress&)>& progress);

}  // namespace natter::tools
