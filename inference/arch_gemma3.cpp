// gemma3 (Gemma 3 text models, 270M to 27B): llama's pre-norm block with RMS norms on the
// heads of Q and K, norms on the attention and feed-forward outputs before they join the
// residual stream, a GELU (tanh) gated feed-forward, NEOX-style RoPE, the embeddings scaled by
// sqrt(n_embd), and local layers (five of every six) that attend to a sliding window of the
// last n_swa positions with RoPE base 10000, the global ones with the file's base. The block
// follows llama.cpp's llama_model_gemma3::graph operation for operation (traced under its
// node names), so its logits are llama.cpp's bit for bit.
#include <cmath>

#include "inference/arch.h"

namespace natter {

namespace {

void read_hparams(const GgufFile& file, Hparams& hp) {
    read_neox_hparams(file, hp);  // the rope scaling is the global layers' (cparams.rope_freq_scale)
    read_sliding_window(file, hp, 6);
    hp.rope_swa = hp.rope;
    hp.rope_swa.freq_base = static_cast<float>(file.get_float(hp.architecture + ".rope.freq_base_swa", 10000.0));
    hp.rope_swa.freq_scale = 1.0f;
    hp.final_logit_softcap = static_cast<float>(file.get_float(hp.architecture + ".final_logit_softcapping", 0.0));
    // The queries are scaled before attention and the scores are not (gemma_pytorch's
    // query_pre_attn_scalar): by 1/sqrt(head_dim), for the 27B (62 layers) by
    // 1/sqrt(n_embd / n_head), as llama.cpp decides it.
    const int d = hp.n_layer == 62 ? hp.n_embd / hp.n_head : hp.head_dim;
    hp.q_scale = 1.0f / std::sqrt(static_cast<float>(d));
    hp.kq_scale = 1.0f;
}

void load_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
    load_llama_layer(file, hp, layer, L);
    const std::string p = "blk." + std::to_string(layer) + ".";
    L.attn_q_norm = load_vector(file, p + "attn_q_norm.weight", hp.head_dim);
    L.attn_k_norm = load_vector(file, p + "attn_k_norm.weight", hp.head_dim);
    L.attn_post_norm = load_vector(file, p + "post_attention_norm.weight", hp.n_embd);
    L.ffn_post_norm = load_vector(file, p + "post_ffw_norm.weight", hp.n_embd);
}

void block(Batch& b, const LayerWeights& L, int l) {
    const Hparams& hp = b.hp;
    const int n = b.n_tokens;

    if (l == 0) {
        // The token embeddings enter scaled by sqrt(n_embd) (inp_scaled).
        b.scale(b.x, n, hp.n_embd, std::sqrt(static_cast<float>(hp.n_embd)));
        b.trace({"inp_scaled"}, b.x, {n, hp.n_embd});
    }

    // Attention: x += post_norm(Wo · attention(rope(norm(Wq · xn)), rope(norm(Wk · xn)), Wv · xn)).
    b.rms_norm(b.x, L.attn_norm, n, b.xn);
    b.trace({"attn_norm", l}, b.xn, {n, hp.n_embd});
    project_qkv(b, L, l);
    b.rms_norm(b.q, L.attn_q_norm, n * hp.n_head, b.q);
    b.trace({"Qcur_normed", l}, b.q, {n, hp.n_head, hp.head_dim});
    b.rms_norm(b.k, L.attn_k_norm, n * hp.n_head_kv, b.k);
    b.trace({"Kcur_normed", l}, b.k, {n, hp.n_head_kv, hp.head_dim});
    b.rope(b.q, b.k, hp.rope_for(l));
    b.trace({"Qcur", l, 2}, b.q, {n, hp.n_head, hp.head_dim});
    b.trace({"Kcur", l, 2}, b.k, {n, hp.n_head_kv, hp.head_dim});
    b.scale(b.q, n, hp.q_dim(), hp.q_scale);
    b.attention(l);
    b.matmul(L.wo, b.attn, n, b.xn);
    // Each row is normed on its own, so norming every row and then keeping the output rows
    // gives llama.cpp's values, which keeps them first.
    b.rms_norm(b.xn, L.attn_post_norm, n, b.xn);
    b.add(b.x, b.xn, n);
    const int rows = b.output_rows(l);
    b.trace({"sa_out", l}, b.x, {rows, hp.n_embd});
    if (rows == 0) return;

    // Feed-forward: x += post_norm(W_down · (gelu(W_gate · xn) * (W_up · xn))), xn = norm(x).
    b.rms_norm(b.x, L.ffn_norm, rows, b.xn);
    b.trace({"ffn_norm", l}, b.xn, {rows, hp.n_embd});
    gated_feed_forward(b, L, l, rows, GatedActivation::Gelu);
    b.rms_norm(b.xn, L.ffn_post_norm, rows, b.xn);
    b.trace({"ffn_post_norm", l}, b.xn, {rows, hp.n_embd});
    b.add(b.x, b.xn, rows);
    b.trace({"l_out", l}, b.x, {rows, hp.n_embd});
}

}  // namespace

extern const Architecture kGemma3Architecture{"gemma3", read_hparams, load_layer, block};

}  // namespace natter
