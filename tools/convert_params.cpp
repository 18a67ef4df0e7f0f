// config.json -> {arch}.* hyper-parameters, and the general.* naming: as llama.cpp's
// TextModel.set_gguf_parameters (and each family's own), and gguf-py's Metadata.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <vector>

#include "core/error.h"
#include "tools/convert_hf.h"

namespace natter::tools {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json read_json(const fs::path& path, bool required) {
    if (!fs::is_regular_file(path)) {
        if (required) throw Error(path.string() + " is missing; a Hugging Face checkpoint folder has one");
        return nullptr;
    }
    std::ifstream in(path);
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw Error(path.string() + " is not valid JSON (" + std::string(e.what()) + ")");
    }
}

bool is_number(const json* v) { return v != nullptr && v->is_number(); }

// The defaults transformers' config classes (5.x) give keys a config.json leaves out, which
// llama.cpp's converter sees because it reads the config through AutoConfig: without them an
// older checkpoint's missing head_dim or rms_norm_eps would give other metadata.
void apply_config_defaults(HfModel& m) {
    json& c = m.config;
    const auto def = [&](const char* key, const json& value) {
        if (!c.contains(key)) c[key] = value;
    };
    const bool sizes = c.contains("hidden_size") && c["hidden_size"].is_number_integer() &&
                       c.contains("num_attention_heads") && c["num_attention_heads"].is_number_integer() &&
                       c["num_attention_heads"].get<int64_t>() > 0;
    const int64_t head_dim = sizes ? c["hidden_size"].get<int64_t>() / c["num_attention_heads"].get<int64_t>() : 0;
    const bool mistral = m.hf_arch == "MistralForCausalLM";
    if (m.arch == "gemma3") {
        def("head_dim", 256);
        def("max_position_embeddings", 131072);
        def("rms_norm_eps", 1e-6);
        def("sliding_window", 4096);
        def("num_key_value_heads", 4);
        if (!c.contains("rope_parameters")) {
            def("rope_theta", 1000000.0);
            def("rope_local_base_freq", 10000.0);
        }
        return;
    }
    if (sizes) def("num_key_value_heads", c["num_attention_heads"]);
    if (!c.contains("rope_parameters")) def("rope_theta", 10000.0);
    if (m.arch == "llama") {
        if (sizes) def("head_dim", head_dim);
        def("max_position_embeddings", mistral ? 131072 : 2048);
        def("rms_norm_eps", 1e-6);
        if (mistral) def("sliding_window", 4096);
    } else if (m.arch == "qwen2" || m.arch == "qwen3") {
        if (m.arch == "qwen3") def("head_dim", 128);
        def("max_position_embeddings", 32768);
        def("rms_norm_eps", 1e-6);
    } else if (m.arch == "phi3") {
        def("max_position_embeddings", 4096);
        def("original_max_position_embeddings", 4096);
        def("rms_norm_eps", 1e-5);
    }
}

}  // namespace

GgufValue u32(int64_t v) {
    if (v < 0 || v > UINT32_MAX) throw Error("a hyper-parameter of " + std::to_string(v) + " does not fit GGUF's uint32");
    return GgufValue{static_cast<uint32_t>(v)};
}
GgufValue f32(double v) { return GgufValue{static_cast<float>(v)}; }
GgufValue str(std::string v) { return GgufValue{std::move(v)}; }

std::string gguf_architecture(const std::string& hf_arch) {
    static const std::pair<const char*, const char*> table[] = {
        {"LlamaForCausalLM", "llama"},   {"LLaMAForCausalLM", "llama"}, {"MistralForCausalLM", "llama"},
        {"Qwen2ForCausalLM", "qwen2"},   {"Qwen3ForCausalLM", "qwen3"}, {"Gemma3ForCausalLM", "gemma3"},
        {"Phi3ForCausalLM", "phi3"},
    };
    for (const auto& [hf, gguf] : table) {
        if (hf_arch == hf) return gguf;
    }
    return "";
}

HfModel HfModel::load(const fs::path& dir) {
    HfModel m;
    m.dir = dir;
    m.raw_config = read_json(dir / "config.json", true);
    if (!m.raw_config.is_object()) throw Error(m.file("config.json") + " is not a JSON object");
    const json& archs = m.raw_config.value("architectures", json::array());
    if (!archs.is_array() || archs.empty() || !archs[0].is_string()) {
        throw Error(m.file("config.json") + " names no architecture (its 'architectures' list is missing)");
    }
    m.hf_arch = archs[0];
    m.arch = gguf_architecture(m.hf_arch);
    if (m.arch.empty()) {
        throw Error(m.file("config.json") + ": architecture " + m.hf_arch +
                    " is not one natter converts; it converts LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                    "Qwen3ForCausalLM, Gemma3ForCausalLM and Phi3ForCausalLM");
    }
    m.config = m.raw_config;
    if (m.raw_config.contains("text_config") && m.raw_config["text_config"].is_object()) {
        m.config.update(m.raw_config["text_config"]);
    }
    apply_config_defaults(m);
    m.tokenizer_config = read_json(dir / "tokenizer_config.json", false);
    m.tokenizer_json = read_json(dir / "tokenizer.json", false);
    // gguf-py ignores a generation_config.json it cannot read.
    try {
        m.generation_config = read_json(dir / "generation_config.json", false);
    } catch (const Error&) {
        m.generation_config = nullptr;
    }

    // TextModel.__init__: the rope parameters, with the global ones mirrored into them.
    const json* rp = m.config.contains("rope_parameters") ? &m.config["rope_parameters"]
                                                           : m.config.contains("rope_scaling") ? &m.config["rope_scaling"] : nullptr;
    m.rope = rp != nullptr && rp->is_object() ? *rp : json::object();
    if (!m.rope.contains("full_attention") && !m.rope.contains("sliding_attention")) {
        const json* theta = m.find({"global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"});
        const json* local = m.find({"local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"});
        const json* partial = m.find({"partial_rotary_factor", "rope_pct", "rope_percent"});
        const json* orig = m.find({"original_max_position_embeddings"});
        if (local != nullptr && !local->is_null()) m.rope["sliding_attention"] = {{"rope_theta", *local}};
        if (!m.rope.contains("rope_theta") && theta != nullptr && !theta->is_null()) m.rope["rope_theta"] = *theta;
        if (!m.rope.contains("rope_type") && m.rope.contains("type") && !m.rope["type"].is_null()) m.rope["rope_type"] = m.rope["type"];
        if (!m.rope.contains("partial_rotary_factor") && partial != nullptr && !partial->is_null()) m.rope["partial_rotary_factor"] = *partial;
        if (!m.rope.contains("original_max_position_embeddings") && orig != nullptr && !orig->is_null()) {
            m.rope["original_max_position_embeddings"] = *orig;
        }
    }
    return m;
}

const json* HfModel::find(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
        if (config.contains(k)) return &config[k];
    }
    return nullptr;
}

int64_t HfModel::require_int(std::initializer_list<const char*> keys) const {
    const json* v = find(keys);
    if (v == nullptr || !v->is_number_integer()) {
        throw Error(file("config.json") + " lacks '" + std::string(*keys.begin()) + "' (an integer)");
    }
    return v->get<int64_t>();
}

namespace {

void add_if_int(const HfModel& m, GgufWriter& w, const std::string& key, std::initializer_list<const char*> keys) {
    const json* v = m.find(keys);
    if (is_number(v)) w.set(key, u32(v->get<int64_t>()));
}

void add_if_float(const HfModel& m, GgufWriter& w, const std::string& key, std::initializer_list<const char*> keys) {
    const json* v = m.find(keys);
    if (is_number(v)) w.set(key, f32(v->get<double>()));
}

const json& full_attention_rope(const HfModel& m) {
    return m.rope.contains("full_attention") ? m.rope["full_attention"] : m.rope;
}

// TextModel.set_gguf_parameters.
void add_text_model_parameters(const HfModel& m, GgufWriter& w) {
    const std::string a = m.arch + ".";
    w.set(a + "block_count", u32(m.require_int({"n_layers", "num_hidden_layers", "n_layer", "num_layers"})));
    add_if_int(m, w, a + "context_length",
               {"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"});
    add_if_int(m, w, a + "embedding_length", {"hidden_size", "n_embd", "dim"});
    add_if_int(m, w, a + "feed_forward_length",
               {"prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"});
    add_if_int(m, w, a + "attention.head_count", {"num_attention_heads", "n_head", "n_heads"});
    add_if_int(m, w, a + "attention.head_count_kv", {"num_key_value_heads", "n_kv_heads"});
    if (m.config.value("is_causal", true) == false) w.set(a + "attention.causal", GgufValue{false});

    const json& rp = full_attention_rope(m);
    if (rp.contains("rope_type") && rp["rope_type"].is_string()) {
        const std::string type = rp["rope_type"];
        const json factor = rp.value("factor", json());
        const auto opt_float = [&](const char* key, const char* name) {
            if (rp.contains(name) && rp[name].is_number()) w.set(a + key, f32(rp[name].get<double>()));
        };
        if (type == "linear" && factor.is_number()) {
            w.set(a + "rope.scaling.type", str("linear"));
            w.set(a + "rope.scaling.factor", f32(factor.get<double>()));
        } else if (type == "yarn" && factor.is_number()) {
            w.set(a + "rope.scaling.type", str("yarn"));
            w.set(a + "rope.scaling.factor", f32(factor.get<double>()));
            if (!rp.contains("original_max_position_embeddings") || !rp["original_max_position_embeddings"].is_number()) {
                throw Error(m.file("config.json") + ": YaRN rope scaling lacks original_max_position_embeddings");
            }
            w.set(a + "rope.scaling.original_context_length", u32(rp["original_max_position_embeddings"].get<int64_t>()));
            opt_float("rope.scaling.yarn_ext_factor", "extrapolation_factor");
            if (rp.contains("attention_factor")) opt_float("rope.scaling.yarn_attn_factor", "attention_factor");
            else opt_float("rope.scaling.yarn_attn_factor", "attn_factor");
            opt_float("rope.scaling.yarn_beta_fast", "beta_fast");
            opt_float("rope.scaling.yarn_beta_slow", "beta_slow");
        } else if (type == "su" || type == "longrope") {
            w.set(a + "rope.scaling.type", str("longrope"));
        }
        // dynamic, llama3 (the rope_freqs tensor) and default add nothing here.
    }
    if (rp.contains("rope_theta") && rp["rope_theta"].is_number()) w.set(a + "rope.freq_base", f32(rp["rope_theta"].get<double>()));
    if (m.rope.contains("sliding_attention") && m.rope["sliding_attention"].is_object() &&
        m.rope["sliding_attention"].contains("rope_theta") && m.rope["sliding_attention"]["rope_theta"].is_number()) {
        w.set(a + "rope.freq_base_swa", f32(m.rope["sliding_attention"]["rope_theta"].get<double>()));
    }
    add_if_float(m, w, a + "attention.layer_norm_rms_epsilon", {"rms_norm_eps", "norm_eps"});
    add_if_float(m, w, a + "attention.layer_norm_epsilon", {"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"});
    for (const char* moe : {"num_local_experts", "num_experts", "n_routed_experts"}) {
        if (is_number(m.find({moe}))) throw Error(m.file("config.json") + " describes a mixture of experts, which natter does not convert");
    }
    if (m.config.contains("head_dim") && m.config["head_dim"].is_number()) {
        w.set(a + "attention.key_length", u32(m.config["head_dim"].get<int64_t>()));
        w.set(a + "attention.value_length", u32(m.config["head_dim"].get<int64_t>()));
    }
}

double get_or(const json& j, const char* key, double fallback) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

void add_gemma3_parameters(const HfModel& m, GgufWriter& w) {
    const std::string a = m.arch + ".";
    const json& h = m.config;
    w.set(a + "context_length", u32(static_cast<int64_t>(get_or(h, "max_position_embeddings", 131072))));
    w.set(a + "attention.head_count", u32(static_cast<int64_t>(get_or(h, "num_attention_heads", 8))));
    w.set(a + "attention.layer_norm_rms_epsilon", f32(get_or(h, "rms_norm_eps", 1e-6)));
    w.set(a + "attention.key_length", u32(static_cast<int64_t>(get_or(h, "head_dim", 256))));
    w.set(a + "attention.value_length", u32(static_cast<int64_t>(get_or(h, "head_dim", 256))));
    w.set(a + "rope.freq_base", f32(get_or(full_attention_rope(m), "rope_theta", 1000000.0)));
    if (h.contains("attn_logit_softcapping") && !h["attn_logit_softcapping"].is_null()) {
        throw Error(m.file("config.json") + " sets attn_logit_softcapping, which Gemma 3 does not have");
    }
    if (get_or(h, "final_logit_softcapping", 0.0) != 0.0) {
        w.set(a + "final_logit_softcapping", f32(h["final_logit_softcapping"].get<double>()));
    }
    if (!(h.contains("sliding_window_pattern") && h["sliding_window_pattern"] == 1)) {
        w.set(a + "attention.sliding_window", u32(m.require_int({"sliding_window"})));
    }
    w.set(a + "attention.head_count_kv", u32(static_cast<int64_t>(get_or(h, "num_key_value_heads", 4))));
}

// Phi3MiniModel.set_gguf_parameters (which does not start from TextModel's).
void add_phi3_parameters(const HfModel& m, GgufWriter& w, uint32_t file_type) {
    const std::string a = m.arch + ".";
    const int64_t n_embd = m.require_int({"hidden_size", "n_embd"});
    const int64_t n_head = m.require_int({"num_attention_heads", "n_head"});
    const json& rp = full_attention_rope(m);
    if (!m.rope.contains("original_max_position_embeddings") || !m.rope["original_max_position_embeddings"].is_number()) {
        throw Error(m.file("config.json") + " lacks 'original_max_position_embeddings', which a Phi-3 model has");
    }
    if (!rp.contains("rope_theta") || !rp["rope_theta"].is_number()) throw Error(m.file("config.json") + " lacks 'rope_theta'");
    const double rot_pct = get_or(m.rope, "partial_rotary_factor", 1.0);
    w.set(a + "context_length", u32(m.require_int({"n_positions", "max_position_embeddings"})));
    w.set(a + "rope.scaling.original_context_length", u32(m.rope["original_max_position_embeddings"].get<int64_t>()));
    w.set(a + "embedding_length", u32(n_embd));
    w.set(a + "feed_forward_length", u32(m.require_int({"intermediate_size"})));
    w.set(a + "block_count", u32(m.require_int({"n_layers", "num_hidden_layers", "n_layer", "num_layers"})));
    w.set(a + "attention.head_count", u32(n_head));
    w.set(a + "attention.head_count_kv", u32(m.require_int({"num_key_value_heads", "n_head_kv"})));
    const json* eps = m.find({"rms_norm_eps"});
    if (!is_number(eps)) throw Error(m.file("config.json") + " lacks 'rms_norm_eps'");
    w.set(a + "attention.layer_norm_rms_epsilon", f32(eps->get<double>()));
    w.set(a + "rope.dimension_count", u32(static_cast<int64_t>(rot_pct * static_cast<double>(n_embd)) / n_head));
    w.set(a + "rope.freq_base", f32(rp["rope_theta"].get<double>()));
    w.set("general.file_type", u32(file_type));
    const json* swa = m.find({"sliding_window"});
    w.set(a + "attention.sliding_window", u32(is_number(swa) ? swa->get<int64_t>() : 0));
}

}  // namespace

void add_hyperparameters(const HfModel& m, uint32_t file_type, GgufWriter& w) {
    if (m.arch == "phi3") {
        add_phi3_parameters(m, w, file_type);
        return;
    }
    add_text_model_parameters(m, w);
    w.set("general.file_type", u32(file_type));
    const std::string a = m.arch + ".";
    if (m.arch == "llama") {
        w.set(a + "vocab_size", u32(m.require_int({"vocab_size"})));
        const json* hd = m.config.contains("head_dim") ? &m.config["head_dim"] : nullptr;
        const int64_t rope_dim = hd != nullptr && hd->is_number_integer()
                                     ? hd->get<int64_t>()
                                     : m.require_int({"hidden_size"}) / m.require_int({"num_attention_heads"});
        w.set(a + "rope.dimension_count", u32(rope_dim));
    } else if (m.arch == "gemma3") {
        add_gemma3_parameters(m, w);
    }
}

// ---- general.*: gguf-py's Metadata heuristics -------------------------------------------

namespace {

struct IdComponents {
    std::optional<std::string> name, org, basename, finetune, version, size_label;
};

bool is_lower_word(const std::string& w) {
    bool any = false;
    for (const char c : w) {
        if (std::isupper(static_cast<unsigned char>(c))) return false;
        if (std::islower(static_cast<unsigned char>(c))) any = true;
    }
    return any;  // Python's str.islower(): cased characters, all lower
}

// Python's str.title(): a letter after a non-letter is upper-cased, the others lower-cased.
std::string title(const std::string& w) {
    std::string out;
    bool prev_letter = false;
    for (const char c : w) {
        const bool letter = std::isalpha(static_cast<unsigned char>(c)) != 0;
        out += letter ? static_cast<char>(prev_letter ? std::tolower(c) : std::toupper(c)) : c;
        prev_letter = letter;
    }
    return out;
}

std::string id_to_title(const std::string& s) {
    std::string t = s;
    for (char& c : t) if (c == '-') c = ' ';
    std::string out;
    size_t i = 0;
    static const std::regex version(R"(^(v\d+(?:\.\d+)*|\d.*)$)");
    while (i < t.size()) {
        while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
        size_t j = i;
        while (j < t.size() && !std::isspace(static_cast<unsigned char>(t[j]))) ++j;
        if (j > i) {
            const std::string w = t.substr(i, j - i);
            out += (out.empty() ? "" : " ") + (is_lower_word(w) && !std::regex_match(w, version) ? title(w) : w);
        }
        i = j;
    }
    return out;
}

std::optional<std::string> joined(const std::vector<std::string>& parts, const std::vector<std::set<std::string>>& types,
                                  const char* type, const char* exclude = nullptr) {
    std::string s;
    std::vector<std::string> seen;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (!types[i].count(type) || (exclude != nullptr && types[i].count(exclude))) continue;
        if (std::string(type) == "size_label") {
            if (std::find(seen.begin(), seen.end(), parts[i]) != seen.end()) continue;
            seen.push_back(parts[i]);
        }
        s += (s.empty() ? "" : "-") + parts[i];
    }
    if (s.empty()) return std::nullopt;
    return s;
}

IdComponents model_id_components(const std::string& model_id, int64_t total_params) {
    IdComponents c;
    if (model_id.find(' ') != std::string::npos) {
        c.name = model_id;
        return c;
    }
    std::string full = model_id;
    if (const size_t slash = model_id.find('/'); slash != std::string::npos) {
        c.org = model_id.substr(0, slash);
        full = model_id.substr(slash + 1);
        if (!c.org->empty() && (*c.org)[0] == '.') c.org.reset();
    }
    c.name = full;
    std::vector<std::string> parts;
    for (size_t i = 0; i <= full.size();) {
        const size_t j = std::min(full.find('-', i), full.size());
        if (j > i) parts.push_back(full.substr(i, j - i));
        i = j + 1;
    }
    std::vector<std::set<std::string>> types(parts.size());
    static const std::regex version(R"((v|iter)?\d+([.]\d+)*)", std::regex::icase);
    static const std::regex quant(R"(i?q\d(_\w)*|b?fp?(16|32))", std::regex::icase);
    static const std::regex size(R"((([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl))", std::regex::icase);
    static const std::regex finetune(R"(chat|instruct|vision|lora)", std::regex::icase);
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string part = parts[i];
        if (std::regex_match(part, version)) {
            types[i].insert("version");
        } else if (std::regex_match(part, quant)) {
            types[i].insert("type");
            for (char& ch : parts[i]) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        } else if (i > 0 && std::regex_match(part, size)) {
            for (char& ch : part) if (ch == '_') ch = '.';
            if (std::isdigit(static_cast<unsigned char>(part.back()))) {
                part = part.substr(0, part.size() - 2) + "." + part.back() + part[part.size() - 2];
            }
            if (part.size() > 1 && std::isdigit(static_cast<unsigned char>(part[part.size() - 2])) &&
                std::string("kmbt").find(part.back()) != std::string::npos) {
                part.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(part.back())));
            }
            if (total_params != 0) {
                const size_t scale = std::string(" KMBT").find(part.back());
                char* end = nullptr;
                const std::string num = part.substr(0, part.size() - 1);
                const double value = std::strtod(num.c_str(), &end);
                if (!num.empty() && end == num.c_str() + num.size() && scale != std::string::npos) {
                    const double label_params = value * std::pow(1000.0, static_cast<double>(scale));
                    if (total_params > 0 && std::fabs(label_params - static_cast<double>(total_params)) >
                                                static_cast<double>(7 * total_params / 8)) {
                        types[i].insert("finetune");
                        part.back() = static_cast<char>(std::tolower(static_cast<unsigned char>(part.back())));
                    }
                }
            }
            if (types[i].empty()) types[i].insert("size_label");
            parts[i] = part;
        } else if (i > 0 && std::regex_match(part, finetune)) {
            types[i].insert("finetune");
        }
    }
    bool numeric_size = false;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (types[i].count("size_label") && std::any_of(parts[i].begin(), parts[i].end(), ::isdigit)) numeric_size = true;
    }
    if (numeric_size) {
        for (size_t i = 0; i < parts.size(); ++i) {
            if (types[i].count("size_label") && std::all_of(parts[i].begin(), parts[i].end(), ::isalpha)) types[i].erase("size_label");
        }
    }
    bool at_start = true;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (at_start && ((types[i].empty() && std::isalpha(static_cast<unsigned char>(parts[i][0]))) || types[i].count("version"))) {
            types[i].insert("basename");
        } else {
            at_start = false;
            if (types[i].empty()) types[i].insert("finetune");
        }
    }
    for (size_t i = parts.size(); i-- > 0;) {
        if (types[i].count("basename") && types[i].size() > 1) types[i].erase("basename");
        else break;
    }
    c.basename = joined(parts, types, "basename");
    c.size_label = joined(parts, types, "size_label");
    c.finetune = joined(parts, types, "finetune");
    c.version = joined(parts, types, "version", "basename");
    if (!c.size_label && !c.finetune && !c.version) c.basename.reset();
    return c;
}

// gguf-py's model_weight_count_rounded_notation(n, min_digits=2).
std::string size_label(int64_t n) {
    const double p = static_cast<double>(n);
    double scaled;
    char suffix;
    if (p > 1e12) scaled = p * 1e-12, suffix = 'T';
    else if (p > 1e9) scaled = p * 1e-9, suffix = 'B';
    else if (p > 1e6) scaled = p * 1e-6, suffix = 'M';
    else scaled = p * 1e-3, suffix = 'K';
    std::string rounded = std::to_string(static_cast<int64_t>(std::nearbyint(scaled)));  // Python's round(): half to even
    rounded.erase(0, rounded.find_first_not_of('0'));
    const int fix = std::max(2 - static_cast<int>(rounded.size()), 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f%c", fix, scaled, suffix);
    return buf;
}

struct Naming {
    std::optional<std::string> name, organization, basename, finetune, version, size_label;
    void take(const IdComponents& c) {
        if (!name && c.name) name = id_to_title(*c.name);
        if (!organization && c.org) organization = id_to_title(*c.org);
        if (!basename && c.basename) basename = c.basename;
        if (!finetune && c.finetune) finetune = c.finetune;
        if (!version && c.version) version = c.version;
        if (!size_label && c.size_label) size_label = c.size_label;
    }
};

}  // namespace

void add_general_metadata(const HfModel& m, int64_t total_params, GgufWriter& w) {
    w.set("general.type", str("model"));
    const json& g = m.generation_config;
    if (g.is_object()) {
        const auto int_key = [&](const char* key, const char* name) {
            if (g.contains(name) && g[name].is_number_integer()) w.set(key, GgufValue{static_cast<int32_t>(g[name].get<int64_t>())});
        };
        const auto float_key = [&](const char* key, const char* name) {
            if (g.contains(name) && g[name].is_number()) w.set(key, f32(g[name].get<double>()));
        };
        if (g.contains("sequence") && g["sequence"].is_string()) w.set("general.sampling.sequence", str(g["sequence"]));
        int_key("general.sampling.top_k", "top_k");
        float_key("general.sampling.top_p", "top_p");
        float_key("general.sampling.min_p", "min_p");
        float_key("general.sampling.xtc_probability", "xtc_probability");
        float_key("general.sampling.xtc_threshold", "xtc_threshold");
        float_key("general.sampling.temp", "temperature");
        int_key("general.sampling.penalty_last_n", "penalty_last_n");
        float_key("general.sampling.penalty_repeat", g.contains("penalty_repeat") ? "penalty_repeat" : "repetition_penalty");
        int_key("general.sampling.mirostat", "mirostat");
        float_key("general.sampling.mirostat_tau", "mirostat_tau");
        float_key("general.sampling.mirostat_eta", "mirostat_eta");
    }
    Naming n;
    const json& name_or_path = m.raw_config.value("_name_or_path", json());
    if (name_or_path.is_string()) {
        const std::string id = name_or_path;
        if (std::count(id.begin(), id.end(), '/') <= 1) n.take(model_id_components(id, total_params));
    }
    const std::string folder = fs::weakly_canonical(m.dir).filename().string();
    n.take(model_id_components(folder, total_params));
    if (!n.size_label && total_params > 0) n.size_label = size_label(total_params);
    w.set("general.name", str(n.name.value_or(folder)));
    if (n.version) w.set("general.version", str(*n.version));
    if (n.organization) w.set("general.organization", str(*n.organization));
    if (n.finetune) w.set("general.finetune", str(*n.finetune));
    if (n.basename) w.set("general.basename", str(*n.basename));
    if (n.size_label) w.set("general.size_label", str(*n.size_label));
}

}  // namespace natter::tools
