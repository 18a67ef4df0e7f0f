#include "inference/arch.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace natter {

// Each defined in its inference/arch_<name>.cpp.
extern const Architecture kLlamaArchitecture;
extern const Architecture kGemma3Architecture;
extern const Architecture kQwen2Architecture;
extern const Architecture kQwen3Architecture;
extern const Architecture kPhi3Architecture;

namespace {

// The architectures natter runs, by general.architecture. A new family: one line here.
const Architecture* const kArchitectures[] = {
    &kLlamaArchitecture,
    &kQwen2Architecture,
    &kQwen3Architecture,
    &kGemma3Architecture,
    &kPhi3Architecture,
};

}  // namespace

const Architecture& find_architecture(const std::string& name, const std::string& path) {
    for (const Architecture* a : kArchitectures) {
        if (name == a->name) return *a;
    }
    const std::string what = name.empty() ? "the model names no architecture (general.architecture)"
                                          : "architecture '" + name + "' (general.architecture) is not supported";
    throw Error(path + ": " + what + "; natter runs " + supported_architectures());
}

std::string supported_architectures() {
    std::string names;
    for (const Architecture* a : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(a->name);
    return names;
}

void read_transformer_hparams(const GgufFile& file, Hparams& hp) {
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
}

void read_rope_scaling(const GgufFile& file, Hparams& hp) {
    // llama-3 style scaling arrives as the rope_freqs tensor, which Model reads.
    const std::string a = hp.architecture + ".";
    // As llama.cpp: linear unless said otherwise (a factor of 1 when none is given).
    const std::string scaling = file.get_string(a + "rope.scaling.type", "linear");
    const auto factor = static_cast<float>(file.get_float(a + "rope.scaling.factor", 1.0));
    hp.rope.attn_factor = static_cast<float>(file.get_float(a + "rope.scaling.attn_factor", 1.0));
    hp.rope.n_ctx_orig = positive_int(file, a + "rope.scaling.original_context_length", hp.n_ctx_train);
    if (scaling == "linear" || scaling == "longrope" || scaling == "yarn") {
        if (!(factor > 0.0f)) throw Error(file.path() + ": rope.scaling.factor must be positive");
        hp.rope.freq_scale = 1.0f / factor;
    } else if (scaling != "none" && scaling != "llama3") {
        throw Error(file.path() + ": rope scaling '" + scaling + "' is not supported (none, linear, llama3, longrope, yarn)");
    }
    if (scaling == "yarn") {
        // rope.scaling.yarn_log_multiplier (transformers' mscale_all_dim) is read by llama.cpp
        // for DeepSeek-2 only (hparams.rope_yarn_log_mul stays 0 for every family natter runs,
        // and llama_context then takes get_mscale(s, 1) as below), so it changes nothing here
        // either: the same logits as llama.cpp on any file that sets it.
        // llama_context's YaRN set-up with its defaults (ext_factor 1, beta_fast 32, beta_slow
        // 1): the attention factor get_mscale(s) / (1 + 0.1 ln s), which rope_yarn multiplies
        // by 1 + 0.1 ln s again, and the correction dimensions of ggml_rope_yarn_corr_dims.
        const float s = 1.0f / hp.rope.freq_scale;
        hp.rope.ext_factor = 1.0f;
        float yarn_attn = s <= 1.0f ? 1.0f : 0.1f * std::log(s) + 1.0f;
        yarn_attn *= 1.0f / (1.0f + 0.1f * std::log(s));
        hp.rope.attn_factor = yarn_attn * hp.rope.attn_factor;
        const auto corr_dim = [&](float n_rot) {
            return static_cast<float>(hp.rope.n_rot) *
                   std::log(static_cast<float>(hp.rope.n_ctx_orig) / (n_rot * 2 * static_cast<float>(M_PI))) /
                   (2 * std::log(hp.rope.freq_base));
        };
        hp.rope.yarn_low = std::max(0.0f, std::floor(corr_dim(32.0f)));
        hp.rope.yarn_high = std::min(static_cast<float>(hp.rope.n_rot - 1), std::ceil(corr_dim(1.0f)));
    }
}

void read_neox_hparams(const GgufFile& file, Hparams& hp) {
    read_transformer_hparams(file, hp);
    read_rope_scaling(file, hp);
    hp.rope.neox = true;
}

void read_sliding_window(const GgufFile& file, Hparams& hp, int default_pattern) {
    const std::string a = hp.architecture + ".";
    hp.n_swa = static_cast<int>(file.get_int(a + "attention.sliding_window", 0));
    if (hp.n_swa < 0) throw Error(file.path() + ": attention.sliding_window must not be negative");
    if (hp.n_swa == 0) return;
    hp.swa_layers.assign(static_cast<size_t>(hp.n_layer), true);
    const GgufValue* pattern = file.find(a + "attention.sliding_window_pattern");
    if (pattern != nullptr && pattern->type() == GgufType::ARRAY) {
        // One flag per layer (true: sliding window), as llama.cpp's get_arr reads it.
        const std::vector<GgufValue>& flags = pattern->as_array().items;
        if (flags.size() != static_cast<size_t>(hp.n_layer)) {
            throw Error(file.path() + ": attention.sliding_window_pattern has " + std::to_string(flags.size()) +
                        " entries for " + std::to_string(hp.n_layer) + " layers");
        }
        for (size_t l = 0; l < flags.size(); ++l) hp.swa_layers[l] = flags[l].as_bool();
        return;
    }
    // Every n-th layer (the last of each group of n) attends to everything, as llama.cpp's
    // set_swa_pattern(n) without dense_first; n = 0 makes every layer a sliding-window one.
    const int64_t n = pattern != nullptr ? pattern->as_int() : default_pattern;
    if (n < 0) throw Error(file.path() + ": attention.sliding_window_pattern must not be negative");
    for (int l = 0; l < hp.n_layer; ++l) hp.swa_layers[static_cast<size_t>(l)] = n == 0 || l % n < n - 1;
}

void load_llama_layer(const GgufFile& file, const Hparams& hp, int layer, LayerWeights& L) {
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

void add_bias(float* rows, const std::vector<float>& bias, int n_rows) {
    const size_t width = bias.size();
    for (size_t t = 0; t < static_cast<size_t>(n_rows); ++t) {
        for (size_t i = 0; i < width; ++i) rows[t * width + i] += bias[i];
    }
}

void project_qkv(Batch& b, const LayerWeights& L, int l) {
    const int n = b.n_tokens;
    b.matmul(L.wq, b.xn, n, b.q);
    add_bias(b.q, L.bq, n);
    b.matmul(L.wk, b.xn, n, b.k);
    add_bias(b.k, L.bk, n);
    b.matmul(L.wv, b.xn, n, b.v);
    add_bias(b.v, L.bv, n);
    b.trace({"Qcur", l}, b.q, {n, b.hp.q_dim()});
    b.trace({"Kcur", l}, b.k, {n, b.hp.kv_dim()});
    b.trace({"Vcur", l}, b.v, {n, b.hp.kv_dim()});
}

void gated_feed_forward(Batch& b, const LayerWeights& L, int l, int rows, GatedActivation act) {
    const Hparams& hp = b.hp;
    b.matmul(L.w_gate, b.xn, rows, b.gate);
    b.matmul(L.w_up, b.xn, rows, b.up);
    b.trace({"ffn_gate", l}, b.gate, {rows, hp.n_ff});
    b.trace({"ffn_up", l}, b.up, {rows, hp.n_ff});
    if (act == GatedActivation::Silu) {
        b.swiglu(b.gate, b.up, rows, b.gate);
        b.trace({"ffn_swiglu", l}, b.gate, {rows, hp.n_ff});
    } else {
        b.geglu(b.gate, b.up, rows, b.gate);
        b.trace({"ffn_geglu", l}, b.gate, {rows, hp.n_ff});
    }
    b.matmul(L.w_down, b.gate, rows, b.xn);
    b.trace({"ffn_out", l}, b.xn, {rows, hp.n_embd});
}

}  // namespace natter
