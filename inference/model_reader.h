#pragma once
// Reading a model out of its GGUF file: tensors as weights and metadata as numbers, each
// checked against what the hyper-parameters expect. Model and every architecture file
// (inference/arch.h) load through these, so a bad file gets the same clear sentence
// (file, tensor or key, what was expected) whatever the architecture.
#include <cstdint>
#include <string>
#include <vector>

#include "inference/gguf.h"
#include "inference/ops.h"

namespace natter {

std::string shape_string(const std::vector<int64_t>& shape);  // "[576, 49152]"
const GgufTensor& require_tensor(const GgufFile& file, const std::string& name);

// A weight matrix of `rows` rows of `cols` elements, used in place from the mapping.
WeightMatrix load_matrix(const GgufFile& file, const std::string& name, int64_t cols, int64_t rows);
// A vector of n values (a norm's weights, a bias) converted to floats.
std::vector<float> load_vector(const GgufFile& file, const std::string& name, int64_t n);
// The same for tensors only some models have: empty when absent, checked when present.
WeightMatrix load_optional_matrix(const GgufFile& file, const std::string& name, int64_t cols, int64_t rows);
std::vector<float> load_optional_vector(const GgufFile& file, const std::string& name, int64_t n);

// Metadata `key` (or the fallback when absent), which must lie in [1, 2^24]; a fallback of
// -1 makes the key required.
int positive_int(const GgufFile& file, const std::string& key, int64_t fallback);

}  // namespace natter
