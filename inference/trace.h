#pragma once
// The forward pass's one hook for watching its intermediate tensors. Forward holds a Trace
// pointer that is null unless something wants the tensors (inference/tensor_dump.h: the
// NATTER_DUMP_DIR .npy dumps; tools/imatrix.h: the importance matrix, from the inputs of the
// weight matmuls), and reports every tensor through trace() below, so that with no trace the
// hot path builds no name and allocates nothing: a name is a few plain fields, turned into
// text only by the Trace that receives it.
#include <cstdint>
#include <initializer_list>

namespace natter {

// A tensor's name as llama.cpp's graph names its node: "attn_norm-0" is {"attn_norm", 0},
// "result_norm" is {"result_norm"}, and "Qcur-0#2" (a name's second node in the layer, Qcur
// after RoPE) is {"Qcur", 0, 2}.
struct TraceName {
    const char* base = "";
    int layer = -1;   // -1: not a layer's tensor
    int repeat = 0;   // 0: the name's first node; n >= 2: its n-th ("#n")
};

class Trace {
public:
    virtual ~Trace() = default;
    // Called at the start of every Forward::eval, so that a trace can group one call's tensors.
    virtual void begin_eval() = 0;
    // `data` holds the tensor in the given shape (numpy order, outermost first); it is only
    // valid during the call.
    virtual void tensor(const TraceName& name, const float* data, std::initializer_list<int64_t> shape) = 0;
    // Called before every matmul with a weight matrix, with its input: `rows` rows of `cols`
    // floats (row-major), valid only during the call. `weight` is the first byte of the
    // weight's rows (a GgufTensor's data, or a row inside a fused one), which names it.
    virtual void matmul_input(const uint8_t* /*weight*/, const float* /*in*/, int /*rows*/, int64_t /*cols*/) {}
};

inline void trace(Trace* t, const TraceName& name, const float* data, std::initializer_list<int64_t> shape) {
    if (t) t->tensor(name, data, shape);
}

}  // namespace natter
