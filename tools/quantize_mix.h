#pragma once
// Which type each tensor of a model gets for a file type: llama.cpp's quantize rules
// (with or without an importance matrix), reproduced so that `natter quantize Q4_K_M` gives the
// same per-tensor types as `llama-quantize ... Q4_K_M` on the same source.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quant/types.h"

namespace natter {
class GgufFile;
struct FileType;
}

namespace natter::tools {

// What the rules look at: names, shapes and a few hyper-parameters.
struct MixTensor {
    std::string name;
    GgmlType type = GgmlType::F32;  // the source type
    int64_t n_dims = 0;
    int64_t row_length = 0;         // shape[0]
};

struct MixModel {
    std::string architecture;  // general.architecture
    int n_layer = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int n_expert = 0;
    std::vector<MixTensor> tensors;  // in file order
    bool has_imatrix = false;  // quantized with an importance matrix (some rules differ)
};

MixModel describe_model(const GgufFile& file);

// One type per tensor, in the order of model.tensors. `pure` gives every quantizable weight
// the file type's base type (still falling back where the row length does not fit).
std::vector<GgmlType> choose_tensor_types(const FileType& file_type, bool pure, const MixModel& model);

// Whether llama.cpp's quantizer touches this tensor at all (others are copied unchanged).
bool tensor_is_quantizable(std::string_view name, int64_t n_dims);

// llama.cpp's tensor_requires_imatrix: a weight of this type in a file of this ftype
// (general.file_type) is garbage without an importance matrix, and llama.cpp refuses to make
// it without one: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, and Q2_K in Q2_K_S (the token
// embedding and the output excepted).
bool tensor_requires_imatrix(std::string_view name, GgmlType type, int ftype);

}  // namespace natter::tools
