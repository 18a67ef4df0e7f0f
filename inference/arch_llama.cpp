// llama, and the families that store themselves as llama (SmolLM, TinyLlama, Llama 2 and 3,
// Mistral 7B...): pre-norm blocks with RMS norm, RoPE on interleaved pairs, grouped-query
// attention and a SwiGLU feed-forward, without biases. The block follows llama.cpp's
// llm_build_llama operation for operation, so its tensors (traced under the names of that
// graph's nodes) and its logits are llama.cpp's bit for bit. qwen2, qwen3 and phi3 run the
// same block (llama_style_block), with the Q/K/V biases, Q/K norms or query scale they add.
#include "inference/arch.h"

namespace natter {

namespace {

void read_hparams(const GgufFile& file, Hparams& hp) {
    read_transformer_hparams(file, hp);
    read_rope_scaling(file, hp);
    // Mistral-style sliding window (llama.attention.sliding_window): every layer attends to the
    // last n_swa positions, as the model was trained (Mistral 7B v0.1: 4096). llama.cpp's llama
    // graph ignores the key and attends to everything, so the two agree bit for bit while the
    // context is within the window and natter alone honours it past that.
    read_sliding_window(file, hp, 0);
    hp.rope_swa = hp.rope;
}

}  // namespace

void llama_style_block(Batch& b, const LayerWeights& L, int l) {
    const Hparams& hp = b.hp;
    const int n = b.n_tokens;

    // Attention: x += Wo · attention(rope(Wq · xn), rope(Wk · xn), Wv · xn), xn = norm(x).
    b.rms_norm(b.x, L.attn_norm, n, b.xn);
    b.trace({"attn_norm", l}, b.xn, {n, hp.n_embd});
    project_qkv(b, L, l);
    if (!L.attn_q_norm.empty()) {  // qwen3: each head of Q and K RMS-normed before RoPE
        b.rms_norm(b.q, L.attn_q_norm, n * hp.n_head, b.q);
        b.trace({"Qcur_normed", l}, b.q, {n, hp.n_head, hp.head_dim});
        b.rms_norm(b.k, L.attn_k_norm, n * hp.n_head_kv, b.k);
        b.trace({"Kcur_normed", l}, b.k, {n, hp.n_head_kv, hp.head_dim});
    }
    b.rope(b.q, b.k, hp.rope_for(l));
    b.trace({"Qcur", l, 2}, b.q, {n, hp.n_head, hp.head_dim});
    b.trace({"Kcur", l, 2}, b.k, {n, hp.n_head_kv, hp.head_dim});
    if (hp.q_scale != 1.0f) b.scale(b.q, n, hp.q_dim(), hp.q_scale);  // phi3
    b.attention(l);
    b.matmul(L.wo, b.attn, n, b.xn);
    b.trace({"attn_out", l}, b.xn, {n, hp.n_embd});
    b.add(b.x, b.xn, n);

    const int rows = b.output_rows(l);
    b.trace({"ffn_inp", l}, b.x, {rows, hp.n_embd});
    if (rows == 0) return;

    // Feed-forward: x += W_down · (silu(W_gate · xn) * (W_up · xn)), xn = norm(x).
    b.rms_norm(b.x, L.ffn_norm, rows, b.xn);
    b.trace({"ffn_norm", l}, b.xn, {rows, hp.n_embd});
    gated_feed_forward(b, L, l, rows, GatedActivation::Silu);
    b.add(b.x, b.xn, rows);
    b.trace({"l_out", l}, b.x, {rows, hp.n_embd});
}

extern const Architecture kLlamaArchitecture{"llama", read_hparams, load_llama_layer, llama_style_block};

}  // namespace natter
