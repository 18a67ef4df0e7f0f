#include "inference/model.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "inference/arch.h"
#include "inference/file_type.h"
#include "inference/model_reader.h"
#include "quant/kernels.h"
#include "quant/packed.h"
#include "quant/quant.h"

namespace natter {

Model::Model(GgufFile file) : file_(std::move(file)), tokenizer_(Tokenizer::from_gguf(file_)) {
    Hparams& hp = hparams_;
    hp.architecture = file_.get_string("general.architecture", "");
    arch_ = &find_architecture(hp.architecture, file_.path());
    arch_->read_hparams(file_, hp);
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
    output_bias_ = load_optional_vector(file_, "output.bias", hp.n_vocab);
    // llama-3 style RoPE scaling; llama.cpp reads it for any architecture that has it, and
    // prefers it to LongRoPE's factors.
    if (auto f = load_optional_vector(file_, "rope_freqs.weight", hp.rope.n_rot / 2); !f.empty()) {
        hp.rope.freq_factors = std::move(f);
        hp.rope.freq_factors_long.clear();
    }
    layers_.resize(static_cast<size_t>(hp.n_layer));
    for (int l = 0; l < hp.n_layer; ++l) arch_->load_layer(file_, hp, l, layers_[static_cast<size_t>(l)]);
    pack_weights();
}

// llama.cpp repacks the same matrices at load (every Q4_0 / Q4_K matrix it multiplies with,
// the output too when it is the token embedding, of which it then loads a second copy).
void Model::pack_weights() {
    const Kernels& k = kernels();
    std::vector<WeightMatrix*> todo;
    auto consider = [&](WeightMatrix& m) {
        if (m.empty() || !has_packed_layout(m.type) || m.rows % kPackedRows != 0) return;
        if (matmul_path(m, 1, 0) != DotPath::Repacked) return;  // llama.cpp's kernels for packable rows
        if (!k.packed_tile_dot(m.type, DotPath::Repacked) || !k.packed_tile_dot(m.type, DotPath::RepackedGemm)) return;
        todo.push_back(&m);
    };
    for (LayerWeights& L : layers_) {
        for (WeightMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) consider(*m);
    }
    consider(output_);
    for (WeightMatrix* m : todo) {
        const size_t row_bytes = packed_row_bytes(m->type, m->cols);
        const size_t bytes = static_cast<size_t>(m->rows) * row_bytes;
        auto* buffer = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
        if (buffer == nullptr) throw Error(file_.path() + ": out of memory packing the weights (" + std::to_string(bytes) + " bytes)");
        packed_.emplace_back(buffer);
        pack_rows(m->type, m->cols, m->data, m->row_bytes, m->rows, buffer);
        m->packed = buffer;
        m->packed_row_bytes = row_bytes;
        packed_bytes_ += bytes;
        file_.release(m->data, static_cast<size_t>(m->rows) * m->row_bytes);
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

std::string Model::quant_name() const { return file_type_label(file_); }

int64_t Model::n_params() const {
    int64_t n = 0;
    for (const GgufTensor& t : file_.tensors()) n += t.n_elements();
    return n;
}

}  // namespace natter
