#include "tools/convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <regex>
#include <set>

#include "core/error.h"
#include "inference/gguf.h"
#include "quant/quant.h"
#include "tools/convert_hf.h"
#include "tools/safetensors.h"

namespace natter::tools {

using nlohmann::json;
namespace fs = std::filesystem;

std::optional<OutType> parse_outtype(std::string_view name) {
    if (name == "f32") return OutType::F32;
    if (name == "f16") return OutType::F16;
    if (name == "bf16") return OutType::BF16;
    if (name == "q8_0") return OutType::Q8_0;
    return std::nullopt;
}

const char* outtype_name(OutType t) {
    switch (t) {
        case OutType::F32: return "f32";
        case OutType::F16: return "f16";
        case OutType::BF16: return "bf16";
        case OutType::Q8_0: return "q8_0";
    }
    return "?";
}

namespace {

// llama.cpp's LlamaFileType numbers for general.file_type.
uint32_t file_type_of(OutType t) {
    switch (t) {
        case OutType::F32: return 0;
        case OutType::F16: return 1;
        case OutType::BF16: return 32;
        case OutType::Q8_0: return 7;
    }
    return 0;
}

GgmlType ggml_type_of(OutType t) {
    switch (t) {
        case OutType::F32: return GgmlType::F32;
        case OutType::F16: return GgmlType::F16;
        case OutType::BF16: return GgmlType::BF16;
        case OutType::Q8_0: return GgmlType::Q8_0;
    }
    return GgmlType::F32;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Transform { None, PermuteQ, PermuteK, NormPlusOne };

// One output tensor: from a checkpoint tensor (maybe transformed) or made here.
struct Planned {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> shape;  // PyTorch's order
    const SafeTensor* src = nullptr;
    Transform transform = Transform::None;
    std::vector<float> made;  // rope factors
};

struct Dims {
    int64_t n_embd, n_head, n_kv, head_dim, n_ff, n_vocab, n_layer;
};

Dims dims_of(const HfModel& m) {
    Dims d{};
    d.n_embd = m.require_int({"hidden_size", "n_embd", "dim"});
    d.n_head = m.require_int({"num_attention_heads", "n_head", "n_heads"});
    const json* kv = m.find({"num_key_value_heads", "n_kv_heads", "n_head_kv"});
    d.n_kv = kv != nullptr && kv->is_number_integer() ? kv->get<int64_t>() : d.n_head;
    const json* hd = m.config.contains("head_dim") ? &m.config["head_dim"] : nullptr;
    if (d.n_head <= 0 || d.n_kv <= 0 || d.n_head % d.n_kv != 0) {
        throw Error(m.file("config.json") + " has " + std::to_string(d.n_head) + " attention heads and " +
                    std::to_string(d.n_kv) + " key/value heads, which do not divide");
    }
    d.head_dim = hd != nullptr && hd->is_number_integer() ? hd->get<int64_t>() : d.n_embd / d.n_head;
    d.n_ff = m.require_int({"intermediate_size", "n_inner", "hidden_dim"});
    d.n_vocab = m.require_int({"vocab_size"});
    d.n_layer = m.require_int({"n_layers", "num_hidden_layers", "n_layer", "num_layers"});
    return d;
}

// A layer tensor's HF name (after "model.layers.N.") -> its GGUF name, per family.
std::optional<std::string> layer_name(const std::string& arch, const std::string& sub) {
    static const std::map<std::string, std::string> common = {
        {"input_layernorm", "attn_norm"},     {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"},       {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"},
        {"mlp.up_proj", "ffn_up"},            {"mlp.down_proj", "ffn_down"},    {"post_attention_layernorm", "ffn_norm"},
    };
    if ((arch == "qwen3" || arch == "gemma3") && sub == "self_attn.q_norm") return "attn_q_norm";
    if ((arch == "qwen3" || arch == "gemma3") && sub == "self_attn.k_norm") return "attn_k_norm";
    if (arch == "gemma3") {
        if (sub == "post_attention_layernorm") return "post_attention_norm";
        if (sub == "pre_feedforward_layernorm") return "ffn_norm";
        if (sub == "post_feedforward_layernorm") return "post_ffw_norm";
    }
    if (arch == "phi3") {
        if (sub == "self_attn.qkv_proj") return "attn_qkv";
        if (sub == "mlp.gate_up_proj") return "ffn_up";
        if (sub == "mlp.gate_proj") return std::nullopt;
    }
    const auto it = common.find(sub);
    if (it == common.end()) return std::nullopt;
    return it->second;
}

// The PyTorch shape a GGUF tensor must have in this model.
std::vector<int64_t> expected_shape(const std::string& arch, const std::string& gguf, const Dims& d) {
    const std::string base = gguf.substr(0, gguf.rfind('.'));
    const bool bias = ends_with(gguf, ".bias");
    const std::string role = base.substr(base.rfind('.') + 1);
    const int64_t q = d.n_head * d.head_dim, kv = d.n_kv * d.head_dim;
    std::vector<int64_t> s;
    if (role == "token_embd" || role == "output") s = {d.n_vocab, d.n_embd};
    else if (role == "attn_q") s = {q, d.n_embd};
    else if (role == "attn_k" || role == "attn_v") s = {kv, d.n_embd};
    else if (role == "attn_qkv") s = {q + 2 * kv, d.n_embd};
    else if (role == "attn_output") s = {d.n_embd, q};
    else if (role == "ffn_gate") s = {d.n_ff, d.n_embd};
    else if (role == "ffn_up") s = {arch == "phi3" ? 2 * d.n_ff : d.n_ff, d.n_embd};
    else if (role == "ffn_down") s = {d.n_embd, d.n_ff};
    else if (role == "attn_q_norm" || role == "attn_k_norm") s = {d.head_dim};
    else s = {d.n_embd};  // the other norms
    if (bias) s.resize(1);
    return s;
}

std::string shape_text(const std::vector<int64_t>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
}

// HF tensor name -> GGUF name; nullopt for tensors the converter drops. Throws for a name
// that has no place in the family.
std::optional<std::string> gguf_name(const HfModel& m, const Dims& d, const std::string& name) {
    if (ends_with(name, ".attention.masked_bias") || ends_with(name, ".attention.bias") || ends_with(name, ".rotary_emb.inv_freq")) {
        return std::nullopt;
    }
    static const std::regex layer(R"(model\.layers\.(\d+)\.(.+)\.(weight|bias))");
    std::smatch match;
    if (name == "model.embed_tokens.weight") return "token_embd.weight";
    if (name == "model.norm.weight") return "output_norm.weight";
    if (name == "lm_head.weight") return "output.weight";
    if (std::regex_match(name, match, layer)) {
        const int64_t bid = std::stoll(match[1]);
        const std::optional<std::string> sub = layer_name(m.arch, match[2]);
        if (bid < d.n_layer && sub) return "blk." + std::to_string(bid) + "." + *sub + "." + std::string(match[3]);
    }
    throw Error("tensor '" + name + "' has no place in a " + m.arch + " model of " + std::to_string(d.n_layer) +
                " layers (" + m.hf_arch + "); natter cannot convert it");
}

// The tensors a model of this family must have.
std::vector<std::string> required_tensors(const HfModel& m, const Dims& d) {
    std::vector<std::string> r = {"token_embd.weight", "output_norm.weight"};
    const bool tied = m.config.value("tie_word_embeddings", true) != false;
    if (!tied) r.push_back("output.weight");
    for (int64_t i = 0; i < d.n_layer; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        std::vector<std::string> names = {"attn_norm", "attn_output", "ffn_up", "ffn_down", "ffn_norm"};
        if (m.arch == "phi3") names.push_back("attn_qkv");
        else for (const char* n : {"attn_q", "attn_k", "attn_v", "ffn_gate"}) names.push_back(n);
        if (m.arch == "qwen3" || m.arch == "gemma3") for (const char* n : {"attn_q_norm", "attn_k_norm"}) names.push_back(n);
        if (m.arch == "gemma3") for (const char* n : {"post_attention_norm", "post_ffw_norm"}) names.push_back(n);
        for (const std::string& n : names) r.push_back(b + n + ".weight");
    }
    return r;
}

GgmlType output_type(const std::string& name, const std::vector<int64_t>& shape, OutType outtype) {
    if (shape.size() <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight")) return GgmlType::F32;
    if (outtype == OutType::Q8_0 && shape.back() % 32 != 0) return GgmlType::F16;  // gguf-py's fallback
    return ggml_type_of(outtype);
}

// LlamaModel.generate_extra_tensors: Llama 3's rope_freqs, in float32 as torch computes them.
std::vector<float> llama3_rope_factors(const HfModel& m, const Dims& d) {
    const json& rp = m.rope.contains("full_attention") ? m.rope["full_attention"] : m.rope;
    const auto get = [&](const char* k, double f) { return rp.contains(k) && rp[k].is_number() ? rp[k].get<double>() : f; };
    const auto base = static_cast<float>(get("rope_theta", 10000.0));
    const auto factor = static_cast<float>(get("factor", 8.0));
    const double low = get("low_freq_factor", 1.0), high = get("high_freq_factor", 4.0);
    const double old_ctx = get("original_max_position_embeddings", 8192);
    const auto low_wavelen = static_cast<float>(old_ctx / low), high_wavelen = static_cast<float>(old_ctx / high);
    std::vector<float> out;
    const int64_t dim = d.head_dim;
    for (int64_t i = 0; i < dim; i += 2) {
        const float freq = 1.0f / std::pow(base, static_cast<float>(i) / static_cast<float>(dim));
        const float wavelen = static_cast<float>(2 * std::numbers::pi) / freq;
        if (wavelen < high_wavelen) {
            out.push_back(1.0f);
        } else if (wavelen > low_wavelen) {
            out.push_back(factor);
        } else {
            const float smooth = (static_cast<float>(old_ctx) / wavelen - static_cast<float>(low)) / static_cast<float>(high - low);
            out.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
        }
    }
    return out;
}

std::vector<float> float_list(const HfModel& m, const json& j, const char* what) {
    std::vector<float> v;
    if (!j.is_array()) throw Error(m.file("config.json") + ": rope_scaling." + what + " is not a list of numbers");
    for (const json& x : j) {
        if (!x.is_number()) throw Error(m.file("config.json") + ": rope_scaling." + what + " is not a list of numbers");
        v.push_back(static_cast<float>(x.get<double>()));
    }
    return v;
}

// Tensors the converter makes (before the checkpoint's, as there), and their metadata.
std::vector<Planned> made_tensors(const HfModel& m, const Dims& d, GgufWriter& w) {
    std::vector<Planned> out;
    const json& rp = m.rope.contains("full_attention") ? m.rope["full_attention"] : m.rope;
    const std::string type = rp.value("rope_type", std::string());
    if (m.arch == "llama" && !rp.empty() && (type == "llama3" || type == "Llama3" || type == "LLAMA3")) {
        Planned p{"rope_freqs.weight", GgmlType::F32, {}, nullptr, Transform::None, llama3_rope_factors(m, d)};
        p.shape = {static_cast<int64_t>(p.made.size())};
        out.push_back(std::move(p));
    }
    if (m.arch == "phi3" && m.rope.contains("long_factor") && m.rope["long_factor"].is_array() && !m.rope["long_factor"].empty()) {
        const double max_pos = static_cast<double>(m.require_int({"n_positions", "max_position_embeddings"}));
        const double orig = m.rope["original_max_position_embeddings"].get<double>();
        const double scale = max_pos / orig;
        if (type.empty()) throw Error(m.file("config.json") + ": rope_scaling lacks its type");
        double attn = 1.0;
        if (type == "su" || type == "longrope") attn = scale > 1.0 ? std::sqrt(1 + std::log(scale) / std::log(orig)) : 1.0;
        else if (type == "yarn") attn = scale > 1.0 ? 0.1 * std::log(scale) + 1.0 : 1.0;
        else throw Error(m.file("config.json") + ": Phi-3 rope scaling " + type + " is not supported");
        w.set("phi3.rope.scaling.attn_factor", f32(attn));
        std::vector<float> lf = float_list(m, m.rope["long_factor"], "long_factor");
        std::vector<float> sf = float_list(m, m.rope.value("short_factor", json()), "short_factor");
        const double rot = m.rope.value("partial_rotary_factor", 1.0);
        const auto half = static_cast<size_t>(static_cast<int64_t>(rot * static_cast<double>(d.n_embd)) / d.n_head / 2);
        if (lf.size() != sf.size() || lf.size() != half) {
            throw Error(m.file("config.json") + ": the rope long and short factors must have " + std::to_string(half) + " entries each");
        }
        out.push_back({"rope_factors_long.weight", GgmlType::F32, {static_cast<int64_t>(half)}, nullptr, Transform::None, lf});
        out.push_back({"rope_factors_short.weight", GgmlType::F32, {static_cast<int64_t>(half)}, nullptr, Transform::None, sf});
    }
    return out;
}

std::vector<Planned> plan(const HfModel& m, const Checkpoint& ck, OutType outtype, GgufWriter& w) {
    const Dims d = dims_of(m);
    std::vector<Planned> out = made_tensors(m, d, w);
    const int64_t n_vocab_real = m.arch == "gemma3" ? vocabulary_size(m) : d.n_vocab;
    std::set<std::string> seen;
    for (const SafeTensor& t : ck.tensors()) {
        const std::optional<std::string> name = gguf_name(m, d, t.name);
        if (!name) continue;
        if (!seen.insert(*name).second) throw Error(t.file + ": tensor '" + t.name + "' is given twice");
        const std::vector<int64_t> want = expected_shape(m.arch, *name, d);
        if (t.shape != want) {
            throw Error(t.file + ": tensor '" + t.name + "' has shape " + shape_text(t.shape) + ", but config.json's sizes make it " +
                        shape_text(want));
        }
        Planned p{*name, GgmlType::F32, t.shape, &t, Transform::None, {}};
        if (m.arch == "llama" && (ends_with(t.name, "q_proj.weight") || ends_with(t.name, "q_proj.bias"))) p.transform = Transform::PermuteQ;
        if (m.arch == "llama" && (ends_with(t.name, "k_proj.weight") || ends_with(t.name, "k_proj.bias"))) p.transform = Transform::PermuteK;
        if (m.arch == "gemma3" && ends_with(t.name, "norm.weight")) p.transform = Transform::NormPlusOne;
        if (m.arch == "gemma3" && *name == "token_embd.weight" && n_vocab_real < p.shape[0]) p.shape[0] = n_vocab_real;
        p.type = output_type(p.name, p.shape, outtype);
        out.push_back(std::move(p));
    }
    for (const std::string& r : required_tensors(m, d)) {
        if (!seen.count(r)) throw Error(m.dir.string() + ": the checkpoint lacks the tensor that becomes " + r + " (is a shard missing?)");
    }
    return out;
}

// LlamaModel.permute: each head's rows from [first halves, second halves] to interleaved pairs.
void permute_rows(std::vector<float>& x, int64_t rows, int64_t cols, int64_t n_head) {
    const int64_t per_head = rows / n_head, half = per_head / 2;
    std::vector<float> out(x.size());
    for (int64_t h = 0; h < n_head; ++h) {
        for (int64_t i = 0; i < half; ++i) {
            for (int64_t j = 0; j < 2; ++j) {
                const int64_t dst = h * per_head + i * 2 + j, src = h * per_head + j * half + i;
                std::memcpy(&out[static_cast<size_t>(dst * cols)], &x[static_cast<size_t>(src * cols)], static_cast<size_t>(cols) * 4);
            }
        }
    }
    x.swap(out);
}

void fill(const Planned& p, const Dims& d, std::span<uint8_t> dst) {
    int64_t n = 1;
    for (const int64_t s : p.shape) n *= s;
    std::vector<float> x(static_cast<size_t>(n));
    if (p.src == nullptr) {
        x = p.made;
    } else {
        // Read in slices, each released once read, so the source is never resident whole.
        const uint8_t* s = p.src->data;
        const size_t size = dtype_size(p.src->dtype);
        constexpr int64_t kSlice = int64_t{1} << 20;
        for (int64_t first = 0; first < n; first += kSlice) {
            const int64_t last = std::min(n, first + kSlice);
            for (int64_t i = first; i < last; ++i) {
                uint16_t h;
                switch (p.src->dtype) {
                    case SafeDtype::F32: std::memcpy(&x[static_cast<size_t>(i)], s + 4 * i, 4); break;
                    case SafeDtype::F16: std::memcpy(&h, s + 2 * i, 2); x[static_cast<size_t>(i)] = fp16_to_fp32(h); break;
                    case SafeDtype::BF16: std::memcpy(&h, s + 2 * i, 2); x[static_cast<size_t>(i)] = bf16_to_fp32(h); break;
                }
            }
            Checkpoint::release(s + static_cast<size_t>(first) * size, static_cast<size_t>(last - first) * size);
        }
    }
    const int64_t cols = p.shape.size() > 1 ? p.shape.back() : 1;
    const int64_t rows = n / cols;
    if (p.transform == Transform::PermuteQ) permute_rows(x, rows, cols, d.n_head);
    if (p.transform == Transform::PermuteK) permute_rows(x, rows, cols, d.n_kv);
    if (p.transform == Transform::NormPlusOne) {
        // In the checkpoint's float type as torch adds: F16 stays F16, the others are F32.
        for (float& v : x) v = p.src->dtype == SafeDtype::F16 ? fp16_to_fp32(fp32_to_fp16(v + 1.0f)) : v + 1.0f;
    }
    switch (p.type) {
        case GgmlType::F32: std::memcpy(dst.data(), x.data(), dst.size()); break;
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = fp32_to_fp16(x[static_cast<size_t>(i)]);
                std::memcpy(dst.data() + 2 * i, &h, 2);
            }
            break;
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = fp32_to_bf16(x[static_cast<size_t>(i)]);
                std::memcpy(dst.data() + 2 * i, &h, 2);
            }
            break;
        default: {
            const size_t row = row_size(p.type, cols);
            for (int64_t r = 0; r < rows; ++r) quantize_row(p.type, x.data() + r * cols, dst.data() + r * row, cols);
        }
    }
}

std::vector<int64_t> reversed(const std::vector<int64_t>& s) { return {s.rbegin(), s.rend()}; }

}  // namespace

ConvertSummary convert_checkpoint(const ConvertOptions& o, const std::function<void(const ConvertProgress&)>& progress) {
    const auto start = std::chrono::steady_clock::now();
    if (fs::is_directory(o.output)) throw Error(o.output + " is a folder; give the GGUF file to write");
    const Checkpoint ck = Checkpoint::open(o.input_dir);  // first: it says when the folder is none
    const HfModel m = HfModel::load(o.input_dir);
    const Dims d = dims_of(m);

    GgufWriter w;
    w.set("general.architecture", str(m.arch));
    // The plan adds phi3's rope.scaling.attn_factor here, as the tensors come first there too.
    std::vector<Planned> tensors = plan(m, ck, o.outtype, w);

    ConvertSummary s;
    s.architecture = m.arch;
    s.hf_architecture = m.hf_arch;
    s.bytes_in = ck.total_bytes();
    std::vector<size_t> nbytes;
    for (const Planned& p : tensors) {
        int64_t n = 1;
        for (const int64_t x : p.shape) n *= x;
        s.n_params += n;
        nbytes.push_back(row_size(p.type, p.shape.back()) * static_cast<size_t>(n / p.shape.back()));
        s.bytes_out += nbytes.back();
        ++s.output_types[p.type];
    }
    add_general_metadata(m, s.n_params, w);
    add_hyperparameters(m, file_type_of(o.outtype), w);
    w.set("general.quantization_version", u32(2));
    add_vocabulary(m, w);
    const std::vector<uint8_t> meta = w.metadata_only();
    const GgufFile written = GgufFile::parse(meta);
    const GgufValue* pre = written.find("tokenizer.ggml.pre");
    s.vocabulary = written.get_string("tokenizer.ggml.model", "") + (pre ? " (" + pre->as_string() + ")" : "");

    const int count = static_cast<int>(tensors.size());
    uint64_t done = 0;
    for (int i = 0; i < count; ++i) {
        const Planned& p = tensors[static_cast<size_t>(i)];
        const size_t size = nbytes[static_cast<size_t>(i)];
        w.add_tensor(p.name, p.type, reversed(p.shape), size, [&, i, size](std::span<uint8_t> dst) {
            if (progress) progress({p.name, i, count, done, s.bytes_out});
            fill(p, d, dst);
            done += size;
        });
    }
    w.write(o.output);
    if (progress && count > 0) progress({tensors.back().name, count, count, s.bytes_out, s.bytes_out});
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
}

}  // namespace natter::tools
