// qwen3 (Qwen3 dense models): llama's block with an RMS norm on each head of Q and K before
// RoPE on GPT-NeoX's halves, no biases, as llama.cpp's llama_model_qwen3 graph.
#include "inference/arch.h"

namespace natter {

namespace {

void load_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
    load_llama_layer(file, hp, layer, L);
    const std::string p = "blk." + std::to_string(layer) + ".";
    L.attn_q_norm = load_vector(file, p + "attn_q_norm.weight", hp.head_dim);
    L.attn_k_norm = load_vector(file, p + "attn_k_norm.weight", hp.head_dim);
}

}  // namespace

extern const Architecture kQwen3Architecture{"qwen3", read_neox_hparams, load_layer, llama_style_block};

}  // namespace natter
