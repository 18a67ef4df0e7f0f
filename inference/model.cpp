#include "inference/model.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "inference/model_reader.h"
#include "quant/quant.h"

namespace natter {

namespace {

Hparams read_hparams(const GgufFile& file) {
    Hparams hp;
    hp.architecture = file.get_string("general.architecture", "");
    if (hp.architecture != "llama") {
        throw Error(file.path() + ": architecture '" + hp.architecture +
                    "' is not supported (natter runs llama-family models: general.architecture = llama)");
    }
    const std::string a = hp.architecture + ".";
    hp.n_embd = positive_int(file, a + "embedding_length", -1);
    hp.n_layer = positive_int(file, a + "block_count", -1);
    hp.n_ff = positive_int(file, a + "feed_forward_length", -1);
    hp.n_head = positive_int(file, a + "attention.head_count", -1);
    hp.n_head_kv = positive_int(file, a + "attention.head_count_kv", hp.n_head);
    hp.n_ctx_train = positive_int(file, a + "context_length", 2048);
    if (hp.n_embd % hp.n_head != 0 || hp.n_head % hp.n_head_kv != 0) {
        throw Error(file.path() + ": head counts (" + std::to_string(hp.n_head) + " query, " +
                    std::to_string(hp.n_head_kv) + " key/value) do not divide the embedding size " +
                    std::to_string(hp.n_embd));
    }
    hp.head_dim = positive_int(file, a + "attention.key_length", hp.n_embd / hp.n_head);
    if (positive_int(file, a + "attention.value_length", hp.head_dim) != hp.head_dim) {
        throw Error(file.path() + ": different key and value head sizes are not supported");
    }
    hp.rms_eps = static_cast<float>(file.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
    hp.rope.n_rot = positive_int(file, a + "rope.dimension_count", hp.head_dim);
    if (hp.rope.n_rot > hp.head_dim || hp.rope.n_rot % 2 != 0) {
        throw Error(file.path() + ": rope.dimension_count " + std::to_string(hp.rope.n_rot) +
                    " does not fit the head size " + std::to_string(hp.head_dim));
    }
    hp.rope.freq_base = static_cast<float>(file.get_float(a + "rope.freq_base", 10000.0));
    // llama-3 style scaling arrives as the rope_freqs tensor, read with the weights.
    const std::string scaling = file.get_string(a + "rope.scaling.type", "none");
    const double factor = file.get_float(a + "rope.scaling.factor", 1.0);
    if (scaling == "linear") {
        if (!(factor > 0.0)) throw Error(file.path() + ": rope.scaling.factor must be positive");
        hp.rope.freq_scale = static_cast<float>(1.0 / factor);
    } else if (scaling != "none" && scaling != "llama3") {
        throw Error(file.path() + ": rope scaling '" + scaling + "' is not supported (none, linear, llama3)");
    }
    return hp;
}

}  // namespace

Model::Model(GgufFile file) : file_(std::move(file)), tokenizer_(Tokenizer::from_gguf(file_)) {
    hparams_ = read_hparams(file_);
    Hparams& hp = hparams_;
    const GgufTensor& embd = require_tensor(file_, "token_embd.weight");
    if (embd.shape.size() != 2 || embd.shape[0] != hp.n_embd) {
        throw Error(file_.path() + ": tensor 'token_embd.weight' has shape " + shape_string(embd.shape) +
                    ", expected [" + std::to_string(hp.n_embd) + ", n_vocab]");
    }
    hp.n_vocab = static_cast<int>(embd.shape[1]);
    if (tokenizer_.n_vocab() > hp.n_vocab) {
        throw Error(file_.path() + ": the tokenizer has " + std::to_string(tokenizer_.n_vocab()) +
                    " tokens but the embedding only " + std::to_string(hp.n_vocab));
    }
    token_embd_ = load_matrix(file_, "token_embd.weight", hp.n_embd, hp.n_vocab);
    output_norm_ = load_vector(file_, "output_norm.weight", hp.n_embd);
    output_ = load_optional_matrix(file_, "output.weight", hp.n_embd, hp.n_vocab);
    if (output_.empty()) output_ = token_embd_;  // tied embeddings
    // llama-3 style RoPE scaling; llama.cpp reads it for any architecture that has it.
    hp.rope.freq_factors = load_optional_vector(file_, "rope_freqs.weight", hp.rope.n_rot / 2);
    layers_.resize(static_cast<size_t>(hp.n_layer));
    for (int l = 0; l < hp.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& L = layers_[static_cast<size_t>(l)];
        L.attn_norm = load_vector(file_, p + "attn_norm.weight", hp.n_embd);
        L.wq = load_matrix(file_, p + "attn_q.weight", hp.n_embd, hp.q_dim());
        L.wk = load_matrix(file_, p + "attn_k.weight", hp.n_embd, hp.kv_dim());
        L.wv = load_matrix(file_, p + "attn_v.weight", hp.n_embd, hp.kv_dim());
        L.wo = load_matrix(file_, p + "attn_output.weight", hp.q_dim(), hp.n_embd);
        L.ffn_norm = load_vector(file_, p + "ffn_norm.weight", hp.n_embd);
        L.w_gate = load_matrix(file_, p + "ffn_gate.weight", hp.n_embd, hp.n_ff);
        L.w_up = load_matrix(file_, p + "ffn_up.weight", hp.n_embd, hp.n_ff);
        L.w_down = load_matrix(file_, p + "ffn_down.weight", hp.n_ff, hp.n_embd);
    }
}

std::unique_ptr<Model> Model::load(const std::string& path) { return from_gguf(GgufFile::open(path)); }

std::unique_ptr<Model> Model::from_gguf(GgufFile file) {
    return std::unique_ptr<Model>(new Model(std::move(file)));
}

void Model::embed(int32_t token, float* out) const {
    if (token < 0 || token >= hparams_.n_vocab) {
        throw Error("token id " + std::to_string(token) + " is outside the vocabulary (0.." +
                    std::to_string(hparams_.n_vocab - 1) + ")");
    }
    dequantize_row(token_embd_.type, token_embd_.row(token), out, token_embd_.cols);
}

std::string Model::quant_name() const {
    std::map<GgmlType, int64_t> bytes;
    for (const GgufTensor& t : file_.tensors()) {
        if (t.shape.size() >= 2) bytes[t.type] += static_cast<int64_t>(t.nbytes);
    }
    const auto most = std::max_element(bytes.begin(), bytes.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    return most == bytes.end() ? "?" : std::string(type_name(most->first));
}

int64_t Model::n_params() const {
    int64_t n = 0;
    for (const GgufTensor& t : file_.tensors()) n += t.n_elements();
    return n;
}

}  // namespace natter
