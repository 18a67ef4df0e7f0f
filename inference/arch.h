#pragma once
// The architecture seam. What differs between model families (GGUF general.architecture)
// lives in one file each, inference/arch_<name>.cpp, which defines an Architecture: how to
// read its hyper-parameters, how to load one layer's weights and how to run one transformer
// block. A new family is a new file and one line in the table in arch.cpp.
//
// What the families share stays in one place and is used from here: the checked GGUF
// readers (inference/model_reader.h), the row ops (inference/ops.h) and Batch below, the
// activations of one batch with the operations a block is written in (matmul, RMS norm,
// RoPE, attention over the KV cache, SwiGLU, residual add, tracing), which forward.cpp
// implements. A block written in them reads like the math, as llama2.c's transformer() does.
#include <initializer_list>
#include <string>
#include <vector>

#include "inference/model.h"
#include "inference/model_reader.h"
#include "inference/trace.h"

namespace natter {

class Batch;

struct Architecture {
    const char* name;  // the value of general.architecture
    // Reads the <name>.* metadata into hp (hp.architecture is already set; n_vocab comes
    // from the token embedding later).
    void (*read_hparams)(const GgufFile& file, Hparams& hp);
    // Loads blk.<layer>.* into L; the optional slots the family does not have stay empty.
    void (*load_layer)(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L);
    // Runs the batch through one layer: b.x (the residual stream) in, b.x out.
    void (*block)(Batch& b, const LayerWeights& L, int layer);
};

// The architecture of general.architecture = name; for any other, natter::Error in one
// sentence naming the file and the supported architectures.
const Architecture& find_architecture(const std::string& name, const std::string& path);
// "llama" (comma-separated when there are several).
std::string supported_architectures();

// The <arch>.* keys that llama.cpp reads the same way for every llama-like family (sizes,
// head counts, RMS epsilon, RoPE dimensions and base), checked against each other.
void read_transformer_hparams(const GgufFile& file, Hparams& hp);
// <arch>.rope.scaling.type and .factor: none, linear (freq_scale) or llama3 (the
// rope_freqs tensor); any other is an error naming it.
void read_rope_scaling(const GgufFile& file, Hparams& hp);
// read_transformer_hparams and read_rope_scaling, with RoPE on GPT-NeoX's halves (qwen2,
// qwen3, gemma3, phi3).
void read_neox_hparams(const GgufFile& file, Hparams& hp);
// <arch>.attention.sliding_window (0 or absent: none) and .sliding_window_pattern (one flag
// per layer, or n: every n-th layer global; absent: default_pattern) into hp.n_swa and
// hp.swa_layers.
void read_sliding_window(const GgufFile& file, Hparams& hp, int default_pattern);

class Forward;

// rows[t][i] += bias[i] (ggml_add of a bias row) for n_rows rows as wide as the bias; nothing
// when the bias is empty (a layer or file without one).
void add_bias(float* rows, const std::vector<float>& bias, int n_rows);

// The pieces several families' blocks share, written in Batch's operations (arch.cpp).
//
// llama's layer tensors: attn_norm, attn_q/k/v/output, ffn_norm, ffn_gate/up/down.
void load_llama_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L);
// q, k, v = Wq · xn, Wk · xn, Wv · xn, each plus its bias where the layer has one, traced as
// Qcur, Kcur and Vcur (llama.cpp's build_qkv).
void project_qkv(Batch& b, const LayerWeights& L, int layer);
enum class GatedActivation { Silu, Gelu };
// xn = W_down · (act(W_gate · xn) * (W_up · xn)) over `rows` rows (build_ffn with a parallel
// gate), traced as ffn_gate, ffn_up, ffn_swiglu or ffn_geglu, and ffn_out.
void gated_feed_forward(Batch& b, const LayerWeights& L, int layer, int rows, GatedActivation act);
// llama's block (arch_llama.cpp), which qwen2, qwen3 and phi3 share: Q/K/V biases and
// per-head Q/K norms where the layer has them, RoPE as hp.rope_for(layer) says, the queries
// scaled by hp.q_scale, a SwiGLU feed-forward.
void llama_style_block(Batch& b, const LayerWeights& L, int layer);

// One batch of tokens on its way through the layers. Forward makes one per batch and hands
// it to the architecture's block for every layer.
class Batch {
public:
    Batch(Forward& forward, int n_tokens, int n_past, int n_out);
    // Rows of several sequences (Forward::decode): row t is at positions[t] of sequence seqs[t].
    Batch(Forward& forward, int n_tokens, const int* positions, const int* seqs);

    const Hparams& hp;
    const int n_tokens;  // rows in the batch
    const int n_past;    // position of the first row
    // Activation rows, each [n_tokens][width]: the residual stream x and a scratch xn
    // (n_embd); queries q and the attention output attn (q_dim); keys k and values v
    // (kv_dim); the feed-forward's gate and up (n_ff).
    float* const x;
    float* const xn;
    float* const q;
    float* const k;
    float* const v;
    float* const attn;
    float* const gate;
    float* const up;

    // out = rms_norm(in) * weight over `rows` rows of weight.size() values each (rows of
    // n_embd, or of head_dim for a per-head norm), with hp.rms_eps.
    void rms_norm(const float* in, const std::vector<float>& weight, int rows, float* out);
    // out = w · in for `rows` rows, split across the threads.
    void matmul(const WeightMatrix& w, const float* in, int rows, float* out);
    // to += from over `rows` rows of n_embd (a residual connection).
    void add(float* to, const float* from, int rows);
    // out = silu(gate) * up over `rows` rows of n_ff.
    void swiglu(const float* gate_in, const float* up_in, int rows, float* out);
    // Rotates the heads of q (n_head) and k (n_head_kv) in place, row t at position n_past + t
    // (or its own position in a batch of several sequences).
    void rope(float* q_rows, float* k_rows);
    // The same with the given rotation (a sliding-window layer's: hp.rope_for(layer)).
    void rope(float* q_rows, float* k_rows, const RopeConfig& rope);
    // out = gelu(gate) * up over `rows` rows of n_ff (ops.h: geglu).
    void geglu(const float* gate_in, const float* up_in, int rows, float* out);
    // data[i] *= s over `rows` rows of `width`.
    void scale(float* data, int rows, int width, float s);
    // Stores this batch's k and v in the layer's cache and writes into attn, for every row
    // and query head, softmax(q·K * hp.kq_scale) · V over the positions up to the row's
    // (in a sliding-window layer, over the last hp.n_swa of them).
    void attention(int layer);
    // The rows that go on to the feed-forward of `layer`: all of them, except in the last
    // layer, where only those whose logits are wanted do (moved to the front of x), as in
    // llama.cpp.
    int output_rows(int layer);

    void trace(const TraceName& name, const float* data, std::initializer_list<int64_t> shape) {
        natter::trace(trace_, name, data, shape);
    }

private:
    int position(int t) const { return positions_ ? positions_[t] : n_past + t; }

    Forward& forward_;
    Trace* trace_;
    int n_out_;
    const int* positions_ = nullptr;  // with seqs_: rows of several sequences
    const int* seqs_ = nullptr;
};

}  // namespace natter
