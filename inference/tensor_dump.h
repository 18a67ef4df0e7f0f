#pragma once
// A debugging aid for following llama.cpp step by step: with the environment variable
// NATTER_DUMP_DIR set, the forward pass writes its intermediate tensors as .npy files named
// like the nodes of llama.cpp's graph (attn_norm-0, Qcur-0, kq_soft_max-0, l_out-0,
// result_output...), one directory per eval call: "prompt" for the first, then "gen0",
// "gen1"... tests/reference/dump_llamacpp_tensors.py writes llama.cpp's in the same layout
// and tests/reference/compare_tensors.py compares the two. Without the variable every call
// here returns at once.
#include <cstdint>
#include <initializer_list>
#include <string>

namespace natter::tensor_dump {

bool enabled();
// Starts the directory of the next eval call.
void begin_eval();
// Writes `data` with the given shape (numpy order, outermost first) as <name>.npy.
void write(const std::string& name, const float* data, std::initializer_list<int64_t> shape);
// The same for a tensor of one layer: <name>-<layer>.npy.
void write(const std::string& name, int layer, const float* data, std::initializer_list<int64_t> shape);

}  // namespace natter::tensor_dump
