#pragma once
// A model: hyper-parameters from GGUF metadata and weights used in place from the
// memory-mapped file, read by its architecture (inference/arch.h).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "inference/gguf.h"
#include "inference/ops.h"
#include "inference/tokenizer.h"

namespace natter {

struct Hparams {
    std::string architecture;
    int n_vocab = 0;
    int n_ctx_train = 0;
    int n_embd = 0;
    int n_layer = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;  // per-head size of Q and K (and V)
    int n_ff = 0;
    float rms_eps = 1e-5f;
    RopeConfig rope;
    // The scores q·k are multiplied by this before the softmax; 0: 1/sqrt(head_dim).
    float kq_scale = 0.0f;
    // Sliding-window attention: a layer with swa_layers[l] set sees only the last n_swa
    // positions (itself included) and rotates with rope_swa (gemma3's local layers).
    int n_swa = 0;
    std::vector<bool> swa_layers;  // empty: none
    RopeConfig rope_swa;
    // gemma3's scale of the queries before attention (f_attention_scale in llama.cpp).
    float q_scale = 1.0f;
    // Final logits become c * tanh(logits / c) (0: not capped).
    float final_logit_softcap = 0.0f;

    int kv_dim() const { return n_head_kv * head_dim; }
    int q_dim() const { return n_head * head_dim; }
    bool is_swa(int layer) const { return !swa_layers.empty() && swa_layers[static_cast<size_t>(layer)]; }
    // The first position a query at pos sees in this layer: a sliding-window layer sees
    // (pos - n_swa, pos], as llama.cpp's SWA mask.
    int visible_from(int layer, int pos) const { return is_swa(layer) ? std::max(0, pos - n_swa + 1) : 0; }
    float attention_scale() const { return kq_scale != 0.0f ? kq_scale : 1.0f / std::sqrt(static_cast<float>(head_dim)); }
    const RopeConfig& rope_for(int layer) const { return is_swa(layer) ? rope_swa : rope; }
};

// One layer's weights, the union of what the supported architectures use. llama fills the
// first group; the optional slots are declared once here for the families that have them
// and stay empty (no data, no values) for those that do not.
struct LayerWeights {
    std::vector<float> attn_norm;
    WeightMatrix wq, wk, wv, wo;
    std::vector<float> ffn_norm;
    WeightMatrix w_gate, w_up, w_down;

    // Optional.
    std::vector<float> bq, bk, bv;                     // Q/K/V projection biases
    std::vector<float> attn_q_norm, attn_k_norm;       // per-head RMS norms of Q and K (head_dim)
    std::vector<float> attn_post_norm, ffn_post_norm;  // norms of the attention and feed-forward outputs
    WeightMatrix wqkv;                                 // Q, K and V as one fused projection
};

struct Architecture;

class Model {
public:
    // Opens and validates a GGUF model. Throws natter::Error with a clear message for an
    // unsupported architecture, a missing tensor or a shape that does not fit.
    static std::unique_ptr<Model> load(const std::string& path);
    static std::unique_ptr<Model> from_gguf(GgufFile file);

    const Hparams& hparams() const { return hparams_; }
    const Architecture& architecture() const { return *arch_; }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    const GgufFile& file() const { return file_; }
    const std::vector<LayerWeights>& layers() const { return layers_; }
    const WeightMatrix& token_embedding() const { return token_embd_; }
    const WeightMatrix& output() const { return output_; }  // token_embd when tied
    const std::vector<float>& output_norm() const { return output_norm_; }
    // output.bias, added to the logits (llama.cpp reads it where a family may have one:
    // qwen2's loader, as TENSOR_NOT_REQUIRED); empty when the file has none.
    const std::vector<float>& output_bias() const { return output_bias_; }

    // Writes the embedding of `token` (n_embd floats) into out.
    void embed(int32_t token, float* out) const;
    // The file type's name, e.g. "Q4_K_M" (inference/file_type.h: general.file_type, else
    // the type of most weight bytes).
    std::string quant_name() const;
    int64_t n_params() const;

    // Bytes of weights held packed for this CPU's kernels (quant/packed.h), 0 if none.
    size_t packed_bytes() const { return packed_bytes_; }

private:
    struct FreeDeleter {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    explicit Model(GgufFile file);
    // Packs the matrices this CPU's kernels read faster packed and releases their file pages.
    void pack_weights();
    GgufFile file_;
    const Architecture* arch_ = nullptr;
    Hparams hparams_;
    Tokenizer tokenizer_;
    WeightMatrix token_embd_, output_;
    std::vector<float> output_norm_;
    std::vector<float> output_bias_;
    std::vector<LayerWeights> layers_;
    std::vector<std::unique_ptr<uint8_t, FreeDeleter>> packed_;
    size_t packed_bytes_ = 0;
};

}  // namespace natter
