// llama, and the families that store themselves as llama (SmolLM, TinyLlama, Llama 2 and 3,
// Mistral 7B...): pre-norm blocks with RMS norm, RoPE on interleaved pairs, grouped-query
// attention and a SwiGLU feed-forward, without biases. The block follows llama.cpp's
// llm_build_llama operation for operation, so its tensors (traced under the names of that
// graph's nodes) and its logits are llama.cpp's bit for bit.
#include "inference/arch.h"

#include "core/error.h"

namespace natter {

namespace {

void read_hparams(const GgufFile& file, Hparams& hp) {
    read_transformer_hparams(file, hp);
    // llama-3 style scaling arrives as the rope_freqs tensor, which Model reads.
    const std::string a = hp.architecture + ".";
    const std::string scaling = file.get_string(a + "rope.scaling.type", "none");
    const double factor = file.get_float(a + "rope.scaling.factor", 1.0);
    if (scaling == "linear") {
        if (!(factor > 0.0)) throw Error(file.path() + ": rope.scaling.factor must be positive");
        hp.rope.freq_scale = static_cast<float>(1.0 / factor);
    } else if (scaling != "none" && scaling != "llama3") {
        throw Error(file.path() + ": rope scaling '" + scaling + "' is not supported (none, linear, llama3)");
    }
}

void load_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    L.attn_norm = load_vector(file, p + "attn_norm.weight", hp.n_embd);
    L.wq = load_matrix(file, p + "attn_q.weight", hp.n_embd, hp.q_dim());
    L.wk = load_matrix(file, p + "attn_k.weight", hp.n_embd, hp.kv_dim());
    L.wv = load_matrix(file, p + "attn_v.weight", hp.n_embd, hp.kv_dim());
    L.wo = load_matrix(file, p + "attn_output.weight", hp.q_dim(), hp.n_embd);
    L.ffn_norm = load_vector(file, p + "ffn_norm.weight", hp.n_embd);
    L.w_gate = load_matrix(file, p + "ffn_gate.weight", hp.n_embd, hp.n_ff);
    L.w_up = load_matrix(file, p + "ffn_up.weight", hp.n_embd, hp.n_ff);
    L.w_down = load_matrix(file, p + "ffn_down.weight", hp.n_ff, hp.n_embd);
}

void block(Batch& b, const LayerWeights& L, int l) {
    const Hparams& hp = b.hp;
    const int n = b.n_tokens;

    // Attention: x += Wo · attention(rope(Wq · xn), rope(Wk · xn), Wv · xn), xn = norm(x).
    b.rms_norm(b.x, L.attn_norm, n, b.xn);
    b.trace({"attn_norm", l}, b.xn, {n, hp.n_embd});
    b.matmul(L.wq, b.xn, n, b.q);
    b.matmul(L.wk, b.xn, n, b.k);
    b.matmul(L.wv, b.xn, n, b.v);
    b.trace({"Qcur", l}, b.q, {n, hp.q_dim()});
    b.trace({"Kcur", l}, b.k, {n, hp.kv_dim()});
    b.trace({"Vcur", l}, b.v, {n, hp.kv_dim()});
    b.rope(b.q, b.k);
    b.trace({"Qcur", l, 2}, b.q, {n, hp.n_head, hp.head_dim});
    b.trace({"Kcur", l, 2}, b.k, {n, hp.n_head_kv, hp.head_dim});
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
    b.matmul(L.w_gate, b.xn, rows, b.gate);
    b.matmul(L.w_up, b.xn, rows, b.up);
    b.trace({"ffn_gate", l}, b.gate, {rows, hp.n_ff});
    b.trace({"ffn_up", l}, b.up, {rows, hp.n_ff});
    b.swiglu(b.gate, b.up, rows, b.gate);
    b.trace({"ffn_swiglu", l}, b.gate, {rows, hp.n_ff});
    b.matmul(L.w_down, b.gate, rows, b.xn);
    b.trace({"ffn_out", l}, b.xn, {rows, hp.n_embd});
    b.add(b.x, b.xn, rows);
    b.trace({"l_out", l}, b.x, {rows, hp.n_embd});
}

}  // namespace

extern const Architecture kLlamaArchitecture{"llama", read_hparams, load_layer, block};

}  // namespace natter
