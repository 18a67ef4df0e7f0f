// phi3 (Phi-3, Phi-3.5 and Phi-4 mini): llama's block (llama_style_block) with Q, K and V
// in one fused projection (attn_qkv) and the feed-forward's gate and up in one (ffn_up, gate
// rows first), RoPE on GPT-NeoX's halves of the first rope.dimension_count dimensions of each
// head, and the queries scaled by 1/sqrt(head_dim) before attention, as llama.cpp's
// llama_model_phi3 graph, with LongRoPE where the file has its factors. A fused matrix is
// used as row ranges of itself: each output is the same dot product of the same weight row
// that llama.cpp's single multiplication computes.
#include <cmath>

#include "core/error.h"
#include "inference/arch.h"

namespace natter {

namespace {

void read_hparams(const GgufFile& file, Hparams& hp) {
    read_neox_hparams(file, hp);
    // attention.sliding_window is ignored: llama.cpp turns Phi's sliding window off (its
    // converters do not say which layers have one).
    hp.q_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    hp.kq_scale = 1.0f;
    // LongRoPE (Phi-3 128k, Phi-3.5 and Phi-4 mini): the short factors, or the long ones in a
    // context longer than rope.scaling.original_context_length (llama.cpp's get_rope_factors).
    hp.rope.freq_factors = load_optional_vector(file, "rope_factors_short.weight", hp.rope.n_rot / 2);
    hp.rope.freq_factors_long = load_optional_vector(file, "rope_factors_long.weight", hp.rope.n_rot / 2);
    if (hp.rope.freq_factors.empty() != hp.rope.freq_factors_long.empty()) {
        throw Error(file.path() + ": LongRoPE needs both rope_factors_short and rope_factors_long");
    }
}

void load_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    L.attn_norm = load_vector(file, p + "attn_norm.weight", hp.n_embd);
    L.wqkv = load_optional_matrix(file, p + "attn_qkv.weight", hp.n_embd, hp.q_dim() + 2 * hp.kv_dim());
    if (L.wqkv.empty()) {
        L.wq = load_matrix(file, p + "attn_q.weight", hp.n_embd, hp.q_dim());
        L.wk = load_matrix(file, p + "attn_k.weight", hp.n_embd, hp.kv_dim());
        L.wv = load_matrix(file, p + "attn_v.weight", hp.n_embd, hp.kv_dim());
    } else {
        L.wq = L.wqkv.rows_view(0, hp.q_dim());
        L.wk = L.wqkv.rows_view(hp.q_dim(), hp.kv_dim());
        L.wv = L.wqkv.rows_view(hp.q_dim() + hp.kv_dim(), hp.kv_dim());
    }
    L.wo = load_matrix(file, p + "attn_output.weight", hp.q_dim(), hp.n_embd);
    L.ffn_norm = load_vector(file, p + "ffn_norm.weight", hp.n_embd);
    const WeightMatrix gate_up = load_matrix(file, p + "ffn_up.weight", hp.n_embd, 2 * static_cast<int64_t>(hp.n_ff));
    L.w_gate = gate_up.rows_view(0, hp.n_ff);
    L.w_up = gate_up.rows_view(hp.n_ff, hp.n_ff);
    L.w_down = load_matrix(file, p + "ffn_down.weight", hp.n_ff, hp.n_embd);
}

}  // namespace

extern const Architecture kPhi3Architecture{"phi3", read_hparams, load_layer, llama_style_block};

}  // namespace natter
