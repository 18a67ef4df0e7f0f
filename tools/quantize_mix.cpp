// Per-tensor type choice for the _S/_M/_L mixes and the IQ types. The rules are llama.cpp's
// (its llama_tensor_get_type), restated: the tensors that hurt most when squeezed (attn_v,
// ffn_down, the output projection) get more bits, in every layer or in the first/last layers
// and every third one between; the 1-2 bit types (IQ1_*, IQ2_*) have rules of their own.
#include "tools/quantize_mix.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <numeric>

#include "core/error.h"
#include "tools/quantize.h"
#include "inference/gguf.h"

namespace natter::tools {

namespace {

// llama.cpp's numbers for the mixed file types (general.file_type).
enum Ftype : int {
    kQ4_0 = 2, kQ5_0 = 8, kQ2_K = 10, kQ3_K_S = 11, kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15,
    kQ5_K_S = 16, kQ5_K_M = 17, kIQ2_XXS = 19, kIQ2_XS = 20, kQ2_K_S = 21, kIQ3_XS = 22, kIQ3_XXS = 23,
    kIQ1_S = 24, kIQ4_NL = 25, kIQ3_S = 26, kIQ3_M = 27, kIQ2_S = 28, kIQ2_M = 29, kIQ4_XS = 30, kIQ1_M = 31,
    kTQ1_0 = 36, kTQ2_0 = 37,
};

enum class Category { TokenEmbd, Output, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// The first match wins, in this order (a fused attn_qkv or MLA attn_kv_b counts as attn_v).
Category category_of(std::string_view name) {
    if (name == "output.weight") return Category::Output;
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
    if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") || contains(name, "attn_v.weight")) {
        return Category::AttnV;
    }
    if (contains(name, "attn_k.weight")) return Category::AttnK;
    if (contains(name, "attn_q.weight")) return Category::AttnQ;
    if (contains(name, "attn_output.weight")) return Category::AttnOutput;
    if (contains(name, "ffn_up")) return Category::FfnUp;
    if (contains(name, "ffn_gate")) return Category::FfnGate;
    if (contains(name, "ffn_down")) return Category::FfnDown;
    return Category::Other;
}

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// Layer number of "blk.N.…", or -1.
int layer_of(const std::string& name) {
    int layer = -1;
    if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
    return layer;
}

// llama.cpp visits tensors by layer (non-layer tensors first), then by name; its counters
// (the i-th attn_v, the i-th ffn_down) follow that order.
std::vector<size_t> visiting_order(const std::vector<MixTensor>& tensors) {
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
        return la != lb ? la < lb : tensors[a].name < tensors[b].name;
    });
    return order;
}

// "More bits" layers: the first and last eighth, and every third one in between.
bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// A k-quant or IQ super-block needs rows that are a multiple of 256; take the nearest
// 32-block type instead, and F16 when even that does not fit.
GgmlType fit_row_length(GgmlType wanted, int64_t row_length) {
    if (row_length % traits(wanted).block_size == 0) return wanted;
    switch (wanted) {
        case GgmlType::IQ1_S: case GgmlType::IQ1_M: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S:
        case GgmlType::IQ4_XS: wanted = GgmlType::IQ4_NL; break;
        case GgmlType::TQ1_0: case GgmlType::TQ2_0:
        case GgmlType::Q2_K:
        case GgmlType::Q3_K: wanted = GgmlType::Q4_0; break;
        case GgmlType::Q4_K: wanted = GgmlType::Q5_0; break;
        case GgmlType::Q5_K: wanted = GgmlType::Q5_1; break;
        case GgmlType::Q6_K: wanted = GgmlType::Q8_0; break;
        default: return GgmlType::F16;
    }
    return row_length % traits(wanted).block_size == 0 ? wanted : GgmlType::F16;
}

class MixRules {
public:
    MixRules(int ftype, const MixModel& model) : ftype_(ftype), model_(model) {
        for (const MixTensor& t : model.tensors) {
            if (category_of(t.name) == Category::AttnV) ++n_attn_v_;
            if (t.name == "output.weight") tied_embeddings_ = false;
        }
        falcon_ = model.architecture == "falcon";
        n_gqa_ = model.n_head_kv > 0 ? model.n_head / model.n_head_kv : 0;
        // llama.cpp's 70B: the llama architecture with 80 layers and grouped-query attention.
        is_70b_ = model.architecture == "llama" && model.n_layer == 80 && model.n_head != model.n_head_kv;
    }

    GgmlType choose(const MixTensor& t, GgmlType base) {
        const Category cat = category_of(t.name);
        if (cat == Category::Output || (tied_embeddings_ && cat == Category::TokenEmbd)) return output_type(t, base);
        if (cat == Category::TokenEmbd) return token_embd_type(base);
        if (is({kIQ2_XXS, kIQ2_XS, kIQ1_S, kIQ2_S, kIQ2_M, kIQ1_M})) return lowest_bits_type(cat, base);
        switch (cat) {
            case Category::AttnV: return attn_v_type(base);
            case Category::AttnK:
                if (model_.n_expert == 8) return GgmlType::Q8_0;
                return ftype_ == kIQ3_XS ? GgmlType::IQ3_XXS : ftype_ == kIQ3_XXS ? GgmlType::IQ2_S : base;
            case Category::AttnQ: return ftype_ == kIQ3_XS ? GgmlType::IQ3_XXS : ftype_ == kIQ3_XXS ? GgmlType::IQ2_S : base;
            case Category::FfnDown: return ffn_down_type(t, base);
            case Category::AttnOutput: return attn_output_type(base);
            case Category::FfnGate: return ffn_gate_up_type(t, i_ffn_gate_, base);
            case Category::FfnUp: return ffn_gate_up_type(t, i_ffn_up_, base);
            default: return base;
        }
    }

private:
    bool is(std::initializer_list<int> ftypes) const {
        return std::find(ftypes.begin(), ftypes.end(), ftype_) != ftypes.end();
    }

    // The output projection (or the embeddings it shares): Q6_K (Q5_K for the 1-2 bit types
    // and IQ3_XXS), or Q8_0 where the base type does not fit.
    GgmlType output_type(const MixTensor& t, GgmlType base) const {
        if (falcon_ || t.row_length % traits(base).block_size != 0) return GgmlType::Q8_0;
        if (is({kIQ2_XXS, kIQ2_XS, kIQ3_XXS, kIQ1_S, kIQ2_S, kIQ2_M, kIQ1_M})) return GgmlType::Q5_K;
        return base == GgmlType::Q8_0 ? base : GgmlType::Q6_K;
    }

    // Embeddings of their own (not shared with the output).
    GgmlType token_embd_type(GgmlType base) const {
        if (is({kIQ2_XXS, kIQ2_XS, kIQ1_S, kIQ1_M})) return GgmlType::Q2_K;
        if (is({kIQ2_S, kIQ2_M, kIQ3_XXS})) return GgmlType::IQ3_S;
        if (is({kTQ1_0, kTQ2_0})) return GgmlType::Q4_K;
        return base;
    }

    // IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M: attn_v, the first eighth of ffn_down and
    // attn_output get 2-4 bits (IQ2_S and IQ2_M: IQ3_S).
    GgmlType lowest_bits_type(Category cat, GgmlType type) {
        const bool s_or_m = is({kIQ2_S, kIQ2_M});
        switch (cat) {
            case Category::AttnV:
                ++i_attn_v_;
                if (n_gqa_ >= 4 || model_.n_expert >= 4) return GgmlType::Q4_K;
                return s_or_m ? GgmlType::IQ3_S : GgmlType::Q2_K;
            case Category::AttnK: return model_.n_expert == 8 ? GgmlType::Q4_K : type;
            case Category::FfnDown:  // counted in visiting order, experts or not
                if (i_ffn_down_++ < model_.n_layer / 8) return s_or_m ? GgmlType::IQ3_S : GgmlType::Q2_K;
                return type;
            case Category::AttnOutput:
                if (model_.n_expert == 8) return GgmlType::Q5_K;
                if (is({kIQ1_S, kIQ1_M})) return GgmlType::IQ2_XXS;
                return s_or_m ? GgmlType::IQ3_S : type;
            default: return type;
        }
    }

    // The layer rules count ffn tensors in visiting order; experts are not stored in layer
    // order, so theirs are read from the name.
    int layer_index(const MixTensor& t, int& counter) {
        const int i = counter++;
        return model_.n_expert > 1 ? layer_of(t.name) : i;
    }

    // IQ3_XS: ffn_gate and ffn_up of the middle layers (not the first or last eighth) IQ3_XXS.
    GgmlType ffn_gate_up_type(const MixTensor& t, int& counter, GgmlType type) {
        const int i = layer_index(t, counter), n = model_.n_layer;
        return ftype_ == kIQ3_XS && i >= n / 8 && i < 7 * n / 8 ? GgmlType::IQ3_XXS : type;
    }

    GgmlType attn_v_type(GgmlType type) {
        const int i = i_attn_v_++;
        if (ftype_ == kQ2_K) type = n_gqa_ >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
        else if (ftype_ == kQ2_K_S && n_gqa_ >= 4) type = GgmlType::Q4_K;
        else if (ftype_ == kIQ3_XXS) {
            type = n_gqa_ >= 4 ? GgmlType::Q4_K : !model_.has_imatrix ? GgmlType::IQ3_S : GgmlType::IQ3_XXS;
        } else if (is({kIQ3_XS, kIQ3_S}) && n_gqa_ >= 4) type = GgmlType::Q4_K;
        else if (ftype_ == kIQ3_M) type = GgmlType::Q4_K;
        else if (ftype_ == kQ3_K_M) type = i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
        else if (ftype_ == kQ3_K_L) type = GgmlType::Q5_K;
        else if (is({kIQ4_NL, kIQ4_XS}) && n_gqa_ >= 4) type = GgmlType::Q5_K;
        else if (is({kQ4_K_M, kQ5_K_M}) && use_more_bits(i, n_attn_v_)) type = GgmlType::Q6_K;
        else if (ftype_ == kQ4_K_S && i < 4) type = GgmlType::Q5_K;
        // 70B shares each attn_v among 8 heads: it is small, so more bits are cheap.
        if (is_70b_ && (type == GgmlType::Q3_K || type == GgmlType::Q4_K)) type = GgmlType::Q5_K;
        if (model_.n_expert == 8) type = GgmlType::Q8_0;
        return type;
    }

    GgmlType ffn_down_type(const MixTensor& t, GgmlType type) {
        const int i = layer_index(t, i_ffn_down_), n = model_.n_layer;
        if (ftype_ == kQ2_K) return GgmlType::Q3_K;
        if (ftype_ == kQ2_K_S) return i < n / 8 ? GgmlType::Q4_K : type;
        if (ftype_ == kIQ3_XXS && !model_.has_imatrix) return i < n / 8 ? GgmlType::Q4_K : GgmlType::Q3_K;
        if (ftype_ == kQ3_K_M) {
            if (i < n / 16) return GgmlType::Q5_K;
            return !falcon_ || use_more_bits(i, n) ? GgmlType::Q4_K : GgmlType::Q3_K;
        }
        if (ftype_ == kIQ3_M && (i < n / 8 || (model_.n_expert == 8 && use_more_bits(i, n)))) return GgmlType::Q4_K;
        if (ftype_ == kQ3_K_L) return falcon_ ? GgmlType::Q4_K : GgmlType::Q5_K;
        if (ftype_ == kQ4_K_M) {
            if (falcon_) return i < n / 16 ? GgmlType::Q6_K : use_more_bits(i, n) ? GgmlType::Q5_K : GgmlType::Q4_K;
            return use_more_bits(i, n) ? GgmlType::Q6_K : type;
        }
        if (is({kIQ4_NL, kIQ4_XS}) && i < n / 8 && !model_.has_imatrix) return GgmlType::Q5_K;
        if (ftype_ == kQ5_K_M && use_more_bits(i, n)) return GgmlType::Q6_K;
        if (ftype_ == kQ4_K_S && !falcon_ && i < n / 8) return GgmlType::Q5_K;
        // With an importance matrix the first eighth of ffn_down gets the type with a min
        // (Q4_0 and Q5_0 go astray there even so).
        if (is({kQ4_0, kQ5_0}) && model_.has_imatrix && i < n / 8) {
            return ftype_ == kQ4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
        }
        return type;
    }

    GgmlType attn_output_type(GgmlType type) const {
        if (falcon_) return ftype_ == kQ3_K_L ? GgmlType::Q4_K : type;
        if (model_.n_expert == 8) {
            return is({kQ2_K, kIQ3_XS, kIQ3_XXS, kQ3_K_S, kQ3_K_M, kIQ4_NL, kQ4_K_S, kQ4_K_M, kIQ3_S, kIQ3_M, kIQ4_XS})
                       ? GgmlType::Q5_K : type;
        }
        if (ftype_ == kQ2_K) return GgmlType::Q3_K;
        if (ftype_ == kIQ3_XXS) return GgmlType::IQ3_S;
        if (ftype_ == kQ3_K_M || ftype_ == kIQ3_M) return GgmlType::Q4_K;
        if (ftype_ == kQ3_K_L) return GgmlType::Q5_K;
        return type;
    }

    int ftype_;
    const MixModel& model_;
    bool tied_embeddings_ = true;  // until an output.weight shows up
    bool falcon_ = false, is_70b_ = false;
    int n_gqa_ = 0;
    int n_attn_v_ = 0, i_attn_v_ = 0, i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
};

int metadata_int(const GgufFile& file, const std::string& key, int fallback) {
    const GgufValue* v = file.find(key);
    if (!v) return fallback;
    // Per-layer arrays (some architectures): llama.cpp's rules look at layer 0.
    if (v->type() == GgufType::ARRAY) {
        const std::vector<int64_t> items = v->as_int_array();
        return items.empty() ? fallback : static_cast<int>(items.front());
    }
    return static_cast<int>(v->as_int());
}

}  // namespace

bool tensor_is_quantizable(std::string_view name, int64_t n_dims) {
    if (n_dims < 2 || !name.ends_with("weight")) return false;
    // Norms, MoE routers and small or position tensors stay as they are.
    static constexpr std::array kKeep = {
        "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "time_mix_first.weight", "time_mix_w0.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
        "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
        "position_embd", "token_types.weight",
    };
    return std::none_of(kKeep.begin(), kKeep.end(), [&](const char* part) { return contains(name, part); });
}

bool tensor_requires_imatrix(std::string_view name, GgmlType type, int ftype) {
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") return false;
    switch (type) {
        case GgmlType::IQ3_XXS: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S:
        case GgmlType::IQ1_M: case GgmlType::IQ1_S: return true;
        case GgmlType::Q2_K: return ftype == kQ2_K_S;
        default: return false;
    }
}

MixModel describe_model(const GgufFile& file) {
    MixModel m;
    m.architecture = file.get_string("general.architecture", "");
    const std::string a = m.architecture + ".";
    m.n_layer = metadata_int(file, a + "block_count", 0);
    m.n_head = metadata_int(file, a + "attention.head_count", 0);
    m.n_head_kv = metadata_int(file, a + "attention.head_count_kv", m.n_head);
    m.n_expert = metadata_int(file, a + "expert_count", 0);
    for (const GgufTensor& t : file.tensors()) {
        m.tensors.push_back({t.name, t.type, static_cast<int64_t>(t.shape.size()), t.shape.at(0)});
    }
    return m;
}

std::vector<GgmlType> choose_tensor_types(const FileType& file_type, bool pure, const MixModel& model) {
    std::vector<GgmlType> types(model.tensors.size());
    if (!file_type.base) throw Error("natter does not make the file type " + std::string(file_type.name));
    const GgmlType base = *file_type.base;
    MixRules rules(file_type.ftype, model);
    const bool mixes = !pure && !is_float_type(base);
    for (const size_t i : visiting_order(model.tensors)) {
        const MixTensor& t = model.tensors[i];
        if (!tensor_is_quantizable(t.name, t.n_dims)) {
            types[i] = t.type;
            continue;
        }
        const GgmlType wanted = mixes ? rules.choose(t, base) : base;
        types[i] = is_float_type(wanted) ? wanted : fit_row_length(wanted, t.row_length);
    }
    return types;
}

}  // namespace natter::tools
