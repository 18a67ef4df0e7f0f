#pragma once
// A debugging aid for following llama.cpp step by step: with the environment variable
// NATTER_DUMP_DIR set, the forward pass writes its intermediate tensors as .npy files named
// like the nodes of llama.cpp's graph (attn_norm-0, Qcur-0, Qcur-0#2, l_out-0,
// result_output...), one directory per eval call: "prompt" for the first, then "gen0",
// "gen1"... tests/reference/dump_llamacpp_tensors.py writes llama.cpp's in the same layout
// and tests/reference/compare_tensors.py compares the two.
#include "inference/trace.h"

namespace natter::tensor_dump {

// The process's dump (one, so that the directories count the eval calls of every Forward
// in the process, as llama.cpp's dump counts its steps), or nullptr without NATTER_DUMP_DIR.
Trace* from_environment();

}  // namespace natter::tensor_dump
