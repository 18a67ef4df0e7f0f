// qwen2 (Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen): llama's block with biases on the Q, K and
// V projections and RoPE on GPT-NeoX's halves, as llama.cpp's llama_model_qwen2 graph.
#include "inference/arch.h"

namespace natter {

namespace {

void load_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
    load_llama_layer(file, hp, layer, L);
    const std::string p = "blk." + std::to_string(layer) + ".";
    L.bq = load_optional_vector(file, p + "attn_q.bias", hp.q_dim());
    L.bk = load_optional_vector(file, p + "attn_k.bias", hp.kv_dim());
    L.bv = load_optional_vector(file, p + "attn_v.bias", hp.kv_dim());
}

}  // namespace

extern const Architecture kQwen2Architecture{"qwen2", read_neox_hparams, load_layer, llama_style_block};

}  // namespace natter
