// tokenizer.* metadata from a checkpoint's tokenizer files, as llama.cpp's converter writes
// it: the SentencePiece vocabulary (_create_vocab_sentencepiece, and Phi-3's variant), the
// byte-level BPE one (get_vocab_base, with the pre-tokenizer told by its check-text hash) and
// gguf-py's SpecialVocab (special ids, add_*_token, merges, chat template).
#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <tuple>

#include "core/error.h"
#include "core/sha256.h"
#include "inference/pretokenize.h"
#include "inference/tokenizer.h"
#include "tools/convert_hf.h"
#include "tools/pre_tokenizer_hashes.h"
#include "tools/sentencepiece_model.h"

namespace natter::tools {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<float> scores;  // SentencePiece only
    std::vector<int32_t> types;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
    return s;
}

bool starts_ends(const std::string& s, const std::string& a, const std::string& b) {
    return s.size() >= a.size() + b.size() && s.compare(0, a.size(), a) == 0 && s.compare(s.size() - b.size(), b.size(), b) == 0;
}

// TextModel.does_token_look_special.
bool looks_special(const std::string& t) {
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || starts_ends(t, "<|", "|>") ||
           starts_ends(t, "<\xef\xbd\x9c", "\xef\xbd\x9c>") || starts_ends(t, "<unused", ">");
}

const char* const kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space

int64_t hparam_vocab_size(const HfModel& m, int64_t fallback) {
    const json* v = m.find({"vocab_size_per_layer_input", "vocab_size"});
    return v != nullptr && v->is_number_integer() && v->get<int64_t>() > 0 ? v->get<int64_t>() : fallback;
}

int64_t token_id(const json& key_or_value, const std::string& file) {
    if (key_or_value.is_number_integer()) return key_or_value.get<int64_t>();
    if (key_or_value.is_string()) {
        const std::string s = key_or_value;
        char* end = nullptr;
        const long long id = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end == s.c_str() + s.size()) return id;
    }
    throw Error(file + " has a token id that is not a number: " + key_or_value.dump());
}

std::vector<SentencePiece> read_pieces(const HfModel& m) { return read_sentencepiece_model(m.file("tokenizer.model")); }

// TextModel._create_vocab_sentencepiece.
Vocab sentencepiece_vocab(const HfModel& m) {
    const std::vector<SentencePiece> pieces = read_pieces(m);
    const auto n = static_cast<size_t>(hparam_vocab_size(m, static_cast<int64_t>(pieces.size())));
    Vocab v;
    for (size_t i = 0; i < n; ++i) v.tokens.push_back("[PAD" + std::to_string(i) + "]");
    v.scores.assign(n, -10000.0f);
    v.types.assign(n, kUnused);
    for (size_t id = 0; id < pieces.size() && id < n; ++id) {
        const SentencePiece& p = pieces[id];
        v.tokens[id] = p.piece;
        v.scores[id] = p.score;
        // SentencePieceProcessor's IsUnknown / IsControl / IsUnused / IsByte; user-defined
        // pieces are NORMAL here (added tokens mark them below).
        v.types[id] = p.type == SentencePiece::Unknown ? kUnknown : p.type == SentencePiece::Control ? kControl
                      : p.type == SentencePiece::Unused ? kUnused : p.type == SentencePiece::Byte ? kByte : kNormal;
    }
    const fs::path added = m.dir / "added_tokens.json";
    if (fs::is_regular_file(added)) {
        std::ifstream in(added);
        json j;
        try {
            j = json::parse(in);
        } catch (const json::exception& e) {
            throw Error(added.string() + " is not valid JSON (" + std::string(e.what()) + ")");
        }
        for (const auto& [text, id_value] : j.items()) {
            const int64_t id = token_id(id_value, added.string());
            if (id < 0 || static_cast<size_t>(id) >= n) continue;
            v.tokens[static_cast<size_t>(id)] = text;
            v.scores[static_cast<size_t>(id)] = -1000.0f;
            v.types[static_cast<size_t>(id)] = kUserDefined;
        }
    }
    return v;
}

// The added_tokens_decoder of tokenizer_config.json (or tokenizer.json's added_tokens): each
// entry's id and content, and whether it is special.
struct AddedToken {
    int64_t id;
    std::string content;
    bool special;
};

std::vector<AddedToken> added_tokens_decoder(const HfModel& m) {
    std::vector<AddedToken> out;
    if (!m.tokenizer_config.is_object() || !m.tokenizer_config.contains("added_tokens_decoder")) return out;
    for (const auto& [id, data] : m.tokenizer_config["added_tokens_decoder"].items()) {
        if (!data.is_object() || !data.contains("content") || !data["content"].is_string()) {
            throw Error(m.file("tokenizer_config.json") + ": added token " + id + " has no content");
        }
        out.push_back({token_id(id, m.file("tokenizer_config.json")), data["content"], data.value("special", false) == true});
    }
    return out;
}

std::vector<AddedToken> tokenizer_json_added(const HfModel& m) {
    std::vector<AddedToken> out;
    if (!m.tokenizer_json.is_object() || !m.tokenizer_json.contains("added_tokens")) return out;
    for (const json& t : m.tokenizer_json["added_tokens"]) {
        if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["content"].is_string()) {
            throw Error(m.file("tokenizer.json") + " has an added token without an id or content");
        }
        out.push_back({token_id(t["id"], m.file("tokenizer.json")), t["content"], t.value("special", false) == true});
    }
    return out;
}

void mark_added_base(Vocab& v, const std::vector<AddedToken>& added) {
    for (const AddedToken& t : added) {
        if (t.id < 0 || static_cast<size_t>(t.id) >= v.tokens.size()) continue;
        const auto i = static_cast<size_t>(t.id);
        std::string token = t.content;
        if (t.special || looks_special(token)) {
            v.types[i] = kControl;
        } else {
            token = replace_all(token, kSpace, " ");  // pre-normalize user-defined spaces
            v.types[i] = kUserDefined;
        }
        v.scores[i] = -1000.0f;
        v.tokens[i] = token;
    }
}

// Phi3MiniModel.set_vocab's own reading of the added tokens.
void mark_added_phi3(Vocab& v, const std::vector<AddedToken>& added) {
    for (const AddedToken& t : added) {
        if (t.id < 0 || static_cast<size_t>(t.id) >= v.tokens.size()) continue;
        const auto i = static_cast<size_t>(t.id);
        v.tokens[i] = t.content;
        v.scores[i] = -1000.0f;
        v.types[i] = t.special ? kControl : kUserDefined;
    }
}

// ---- byte-level BPE ------------------------------------------------------------------

struct Bpe {
    Vocab vocab;
    std::vector<std::string> merges;
};

Bpe bpe_vocab(const HfModel& m) {
    const json& tj = m.tokenizer_json;
    const std::string file = m.file("tokenizer.json");
    if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object()) throw Error(file + " has no model");
    const json& model = tj["model"];
    if (model.value("type", std::string()) != "BPE" || !model.contains("vocab") || !model["vocab"].is_object()) {
        throw Error(file + ": the tokenizer is " + model.value("type", std::string("of no type")) +
                    ", not a byte-level BPE with a vocab (and no tokenizer.model is beside it)");
    }
    std::map<int64_t, std::string> by_id;
    for (const auto& [text, id] : model["vocab"].items()) by_id[token_id(id, file)] = text;
    const std::vector<AddedToken> added = tokenizer_json_added(m);
    std::map<std::string, const AddedToken*> added_by_text;
    for (const AddedToken& t : added) {
        by_id[t.id] = t.content;
        added_by_text[t.content] = &t;
    }
    const int64_t max_id = by_id.empty() ? -1 : by_id.rbegin()->first;
    const int64_t n = hparam_vocab_size(m, static_cast<int64_t>(by_id.size()));
    if (max_id >= n) {
        throw Error(file + " has token id " + std::to_string(max_id) + ", but config.json's vocab_size is " + std::to_string(n));
    }
    Bpe b;
    for (int64_t i = 0; i < n; ++i) {
        const auto it = by_id.find(i);
        if (it == by_id.end()) {
            b.vocab.tokens.push_back("[PAD" + std::to_string(i) + "]");
            b.vocab.types.push_back(kUnused);
            continue;
        }
        std::string token = it->second;
        if (const auto a = added_by_text.find(token); a != added_by_text.end()) {
            bool special = false;
            for (const AddedToken& t : added) special = special || (t.id == i && t.special);
            if (special || looks_special(token)) {
                b.vocab.types.push_back(kControl);
            } else {
                token = replace_all(token, kSpace, " ");
                b.vocab.types.push_back(kUserDefined);
            }
        } else {
            b.vocab.types.push_back(kNormal);
        }
        b.vocab.tokens.push_back(token);
    }
    if (model.contains("merges") && model["merges"].is_array()) {
        for (const json& mg : model["merges"]) {
            if (mg.is_string()) {
                b.merges.push_back(mg);
            } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
                // Since transformers 4.45 a merge is a pair; spaces in it become U+0120.
                b.merges.push_back(replace_all(mg[0], " ", "\xc4\xa0") + " " + replace_all(mg[1], " ", "\xc4\xa0"));
            } else {
                throw Error(file + " has merges in an unknown format");
            }
        }
    }
    return b;
}

GgufValue string_array(const std::vector<std::string>& items) {
    GgufArray a{GgufType::STRING, {}};
    a.items.reserve(items.size());
    for (const std::string& s : items) a.items.push_back(GgufValue{s});
    return GgufValue{std::move(a)};
}

template <typename T>
GgufValue number_array(GgufType type, const std::vector<T>& items) {
    GgufArray a{type, {}};
    a.items.reserve(items.size());
    for (const T x : items) a.items.push_back(GgufValue{x});
    return GgufValue{std::move(a)};
}

// ---- gguf-py's SpecialVocab ---------------------------------------------------------------

struct SpecialVocab {
    std::vector<std::string> merges;
    std::vector<std::pair<std::string, int64_t>> ids;       // in the order they were found
    std::vector<std::pair<std::string, bool>> add_special;  // add_{bos,eos,sep}_token
    json chat_template;                                    // null: none
    std::optional<bool> lowercase, strip_accents;
    std::vector<std::string> types{"bos", "eos", "unk", "sep", "pad", "cls", "mask"};

    void set_id(const std::string& type, const json& tid, std::optional<int64_t> n_vocab) {
        if (!tid.is_number_integer()) return;
        const int64_t id = tid.get<int64_t>();
        if (id < 0) throw Error("special token " + type + " has the invalid id " + std::to_string(id));
        if (n_vocab && id >= *n_vocab) return;  // out of range: skipped, as gguf-py does
        for (const auto& [t, _] : ids) {
            if (t == type) return;
        }
        ids.emplace_back(type, id);
    }
    bool has_add(const std::string& t) const {
        return std::any_of(add_special.begin(), add_special.end(), [&](const auto& p) { return p.first == t; });
    }
    void set_add(const std::string& t, bool v, bool only_if_unset) {
        for (auto& [k, x] : add_special) {
            if (k == t) {
                if (!only_if_unset) x = v;
                return;
            }
        }
        add_special.emplace_back(t, v);
    }
    void parse_normalizer(const json& n) {
        if (!n.is_object()) return;
        const std::string type = n.value("type", std::string());
        if (type == "Lowercase") lowercase = true;
        else if (type == "StripAccents") strip_accents = true;
        else if (type == "BertNormalizer") {
            if (n.contains("lowercase") && n["lowercase"].is_boolean()) lowercase = n["lowercase"].get<bool>();
            if (n.contains("strip_accents") && n["strip_accents"].is_boolean()) strip_accents = n["strip_accents"].get<bool>();
        } else if (type == "Sequence" && n.contains("normalizers")) {
            for (const json& x : n["normalizers"]) parse_normalizer(x);
        }
    }
    static json special_id_of(const json& entry) {
        return entry.is_object() && entry.contains("SpecialToken") ? entry["SpecialToken"].value("id", json()) : json();
    }
    // Python's truth of a JSON value: null, false, 0, "" and empty containers are false.
    static bool truthy(const json& j) {
        if (j.is_null()) return false;
        if (j.is_boolean()) return j.get<bool>();
        if (j.is_number()) return j.get<double>() != 0.0;
        return !j.empty() && !(j.is_string() && j.get<std::string>().empty());
    }

    // The post_processor's view of BOS/EOS/SEP (ByteLevel, RobertaProcessing, TemplateProcessing).
    void read_post_processor(const json& post, json& tc, json& bos, json& cls, json& eos, json& sep) {
        const json processors = post.contains("processors") ? post["processors"] : json::array({post});
        for (const json& p : processors) {
            const std::string type = p.value("type", std::string());
            if (type == "ByteLevel") {
                set_add("bos", false, true);
                set_add("eos", false, true);
            } else if (type == "RobertaProcessing") {
                set_add("bos", true, false);
                set_add("eos", true, false);
                set_add("sep", true, false);
                if (!truthy(cls) && truthy(tc)) tc["cls_token"] = cls = p.contains("cls") ? p["cls"][0] : bos;
                if (!truthy(sep) && truthy(tc)) tc["sep_token"] = sep = p.contains("sep") ? p["sep"][0] : eos;
            } else if (type == "TemplateProcessing") {
                const json single = p.value("single", json::array());
                json pair = p.value("pair", json::array());
                json first, last;
                if (single.size() > 1) {
                    first = special_id_of(single.front());
                    if (truthy(first)) {
                        if (!truthy(tc)) bos = first;
                        else if (first != bos && first != cls) {
                            if (!truthy(bos)) tc["bos_token"] = bos = first;
                            if (!truthy(cls)) tc["cls_token"] = cls = first;
                        }
                        set_add("bos", first == bos || first == cls, false);
                    }
                    last = special_id_of(single.back());
                    if (truthy(last)) {
                        if (!truthy(tc)) eos = last;
                        else if (last != eos) {
                            if (std::find(types.begin(), types.end(), "eot") == types.end()) {
                                types.push_back("eot");
                                tc["eot_token"] = eos;
                            } else if (std::find(types.begin(), types.end(), "eom") == types.end()) {
                                types.push_back("eom");
                                tc["eom_token"] = eos;
                            }
                            tc["eos_token"] = eos = last;
                        }
                        set_add("eos", last == eos, false);
                    }
                }
                if (!pair.empty()) {
                    const size_t start = truthy(first) && special_id_of(pair.front()) == first ? 1 : 0;
                    const bool stop = truthy(last) && special_id_of(pair.back()) == last;
                    const size_t end = pair.size() - (stop ? 1 : 0);
                    json mid = json::array();
                    for (size_t i = start; i < end && i < pair.size(); ++i) mid.push_back(pair[i]);
                    if (!mid.empty()) {
                        const json a = mid.front().contains("Sequence") ? mid.front()["Sequence"].value("id", json()) : json();
                        const json b = mid.back().contains("Sequence") ? mid.back()["Sequence"].value("id", json()) : json();
                        if (a == "A" && b == "B" && mid.size() > 2) {
                            bool add_sep = false;
                            const json e1 = special_id_of(mid[1]);
                            if (truthy(e1) && (e1 == sep || e1 == eos) && !truthy(last)) add_sep = true;
                            if (mid.size() == 4) {
                                const json e2 = special_id_of(mid[2]);
                                if (truthy(e2) && (e2 == sep || e2 == eos)) add_sep = true;
                            }
                            set_add("sep", add_sep, false);
                            if (add_sep && !truthy(sep) && truthy(tc)) tc["sep_token"] = eos;
                        }
                    }
                }
            }
        }
    }

    // The merges are bpe_vocab()'s (from tokenizer.json); merges.txt is not read.
    void load(const HfModel& m, std::optional<int64_t> n_vocab) {
        const json& tokenizer = m.tokenizer_json;
        json added = json::array();
        if (tokenizer.is_object()) {
            if (tokenizer.contains("normalizer")) parse_normalizer(tokenizer["normalizer"]);
            added = tokenizer.value("added_tokens", json::array());
        }
        json tc = m.tokenizer_config.is_object() ? m.tokenizer_config : json();
        if (tokenizer.is_object()) {
            const auto get = [&](const char* k) { return tc.is_object() ? tc.value(k, json()) : json(); };
            json bos = get("bos_token"), cls = get("cls_token"), eos = get("eos_token"), sep = get("sep_token");
            if (!truthy(bos) && truthy(cls) && truthy(tc)) tc["bos_token"] = bos = cls;
            if (!truthy(eos) && truthy(sep) && truthy(tc)) tc["eos_token"] = eos = sep;
            if (tokenizer.contains("post_processor") && tokenizer["post_processor"].is_object()) {
                read_post_processor(tokenizer["post_processor"], tc, bos, cls, eos, sep);
            }
        }
        if (tc.is_object() && !tc.empty()) {
            if (fs::is_regular_file(m.dir / "chat_template.jinja")) {
                std::ifstream in(m.dir / "chat_template.jinja");
                chat_template = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            } else if (fs::is_regular_file(m.dir / "chat_template.json")) {
                std::ifstream in(m.dir / "chat_template.json");
                try {
                    chat_template = json::parse(in).value("chat_template", json());
                } catch (const json::exception& e) {
                    throw Error(m.file("chat_template.json") + " is not valid JSON (" + std::string(e.what()) + ")");
                }
            }
            if (tc.contains("chat_template")) chat_template = tc["chat_template"];
            if (!chat_template.is_null() && !chat_template.is_string() && !chat_template.is_array()) chat_template = nullptr;
            for (const std::string& type : types) {
                const json add = tc.value("add_" + type + "_token", json());
                if (add.is_boolean()) set_add(type, add.get<bool>(), true);
                const json entry = tc.value(type + "_token", json());
                std::string content;
                if (entry.is_string()) content = entry;
                else if (entry.is_object() && entry.contains("content") && entry["content"].is_string()) content = entry["content"];
                else continue;
                json id;
                for (const json& t : added) {
                    if (t.is_object() && t.value("content", json()) == content) {
                        id = t.value("id", json());
                        break;
                    }
                }
                set_id(type, id, n_vocab);
            }
        }
        for (const std::string& type : types) {
            json id = m.raw_config.value(type + "_token_id", json());
            if (id.is_null() && m.raw_config.contains("text_config") && m.raw_config["text_config"].is_object()) {
                id = m.raw_config["text_config"].value(type + "_token_id", json());
            }
            set_id(type, id, n_vocab);
        }
    }

    void add_to(GgufWriter& w) const {
        if (!merges.empty()) w.set("tokenizer.ggml.merges", string_array(merges));
        static const std::map<std::string, std::string> id_keys = {
            {"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"unk", "unknown_token_id"}, {"sep", "seperator_token_id"},
            {"pad", "padding_token_id"}, {"mask", "mask_token_id"}, {"eot", "eot_token_id"}, {"eom", "eom_token_id"}};
        for (const auto& [type, id] : ids) {
            if (const auto k = id_keys.find(type); k != id_keys.end()) w.set("tokenizer.ggml." + k->second, u32(id));
        }
        for (const auto& [type, value] : add_special) {
            if (type == "bos" || type == "eos" || type == "sep") w.set("tokenizer.ggml.add_" + type + "_token", GgufValue{value});
        }
        if (chat_template.is_string()) {
            w.set("tokenizer.chat_template", str(chat_template));
        } else if (chat_template.is_array()) {
            std::vector<std::string> names;
            for (const json& choice : chat_template) {
                std::string name = choice.value("name", std::string());
                for (char& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                if (name.empty() || !choice.contains("template") || !choice["template"].is_string()) continue;
                if (name == "default") w.set("tokenizer.chat_template", str(choice["template"]));
                else {
                    w.set("tokenizer.chat_template." + name, str(choice["template"]));
                    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
                }
            }
            if (!names.empty()) w.set("tokenizer.chat_templates", string_array(names));
        }
        if (lowercase) w.set("tokenizer.ggml.normalizer_lowercase", GgufValue{*lowercase});
        if (strip_accents) w.set("tokenizer.ggml.normalizer_strip_accents", GgufValue{*strip_accents});
    }
};

// Python's str() of a list of ints: "[1, 2, 3]".
std::string python_list(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
    return s + "]";
}

// get_vocab_base_pre: the hash of the check text's token ids, tried under each pre-tokenizer
// natter implements; the name whose hash it produces is the one llama.cpp would write.
std::string detect_pre_tokenizer(const HfModel& m, const Bpe& b, const SpecialVocab& special) {
    GgufWriter w;
    w.set("tokenizer.ggml.model", str("gpt2"));
    w.set("tokenizer.ggml.tokens", string_array(b.vocab.tokens));
    w.set("tokenizer.ggml.token_type", number_array(GgufType::INT32, b.vocab.types));
    w.set("tokenizer.ggml.merges", string_array(b.merges));
    bool add_bos = false, add_eos = false;
    for (const auto& [t, v] : special.add_special) {
        if (t == "bos") add_bos = v;
        if (t == "eos") add_eos = v;
    }
    w.set("tokenizer.ggml.add_bos_token", GgufValue{add_bos});
    w.set("tokenizer.ggml.add_eos_token", GgufValue{add_eos});
    for (const auto& [t, id] : special.ids) {
        if (t == "bos" || t == "eos") w.set("tokenizer.ggml." + t + "_token_id", u32(id));
    }
    // Computed once per distinct pre-tokenizer configuration (many names share one).
    std::map<std::tuple<int, bool, bool, bool>, std::string> hash_of_config;
    const auto hash_under = [&](const std::string& pre) {
        const PreTokenizerConfig c = *pre_tokenizer_for(pre);
        const auto key = std::make_tuple(static_cast<int>(c.type), c.ignore_merges, c.add_bos, c.no_bos);
        if (const auto it = hash_of_config.find(key); it != hash_of_config.end()) return it->second;
        w.set("tokenizer.ggml.pre", str(pre));
        const std::vector<uint8_t> bytes = w.metadata_only();
        const GgufFile file = GgufFile::parse(bytes, m.file("tokenizer.json"));
        const std::vector<int32_t> ids = Tokenizer::from_gguf(file).tokenize(kPreTokenizerCheckText, true, true);
        const std::string list = python_list(ids);
        return hash_of_config[key] = sha256_hex({reinterpret_cast<const uint8_t*>(list.data()), list.size()});
    };
    std::string found;
    for (size_t i = 0; i < kPreTokenizerHashCount; ++i) {
        const PreTokenizerHash& h = kPreTokenizerHashes[i];
        if (!pre_tokenizer_for(h.name)) continue;
        if (hash_under(h.name) == h.sha256) found = h.name;  // a later entry wins, as there
    }
    if (!found.empty()) return found;
    throw Error(m.file("tokenizer.json") + ": the BPE pre-tokenizer is not one natter knows (the check text's token ids hash to " +
                hash_under("gpt-2") + " under GPT-2's split, and to none of the hashes llama.cpp lists for the " +
                "pre-tokenizers natter implements)");
}

void add_sentencepiece(const HfModel& m, const Vocab& v, GgufWriter& w) {
    w.set("tokenizer.ggml.model", str("llama"));
    w.set("tokenizer.ggml.pre", str("default"));
    w.set("tokenizer.ggml.tokens", string_array(v.tokens));
    w.set("tokenizer.ggml.scores", number_array(GgufType::FLOAT32, v.scores));
    w.set("tokenizer.ggml.token_type", number_array(GgufType::INT32, v.types));
    SpecialVocab special;
    special.load(m, static_cast<int64_t>(v.tokens.size()));
    special.add_to(w);
}

void add_bpe(const HfModel& m, GgufWriter& w) {
    if (!m.tokenizer_json.is_object()) {
        throw Error(m.dir.string() + " has neither tokenizer.model nor tokenizer.json, so it has no vocabulary to convert");
    }
    Bpe b = bpe_vocab(m);
    SpecialVocab special;
    special.load(m, std::nullopt);
    special.merges = b.merges;
    const std::string pre = detect_pre_tokenizer(m, b, special);
    w.set("tokenizer.ggml.model", str("gpt2"));
    w.set("tokenizer.ggml.pre", str(pre));
    w.set("tokenizer.ggml.tokens", string_array(b.vocab.tokens));
    w.set("tokenizer.ggml.token_type", number_array(GgufType::INT32, b.vocab.types));
    special.add_to(w);
}

bool has_sentencepiece(const HfModel& m) { return fs::is_regular_file(m.dir / "tokenizer.model"); }

}  // namespace

void add_vocabulary(const HfModel& m, GgufWriter& w) {
    const json& tc = m.tokenizer_config;
    if (m.arch == "phi3") {
        if (tc.is_object() && tc.value("tokenizer_class", std::string()) == "GPT2Tokenizer") return add_bpe(m, w);
        if (!has_sentencepiece(m)) throw Error(m.file("tokenizer.model") + " is missing; a Phi-3 checkpoint has one");
        Vocab v = sentencepiece_vocab(m);
        mark_added_phi3(v, added_tokens_decoder(m));
        mark_added_phi3(v, tokenizer_json_added(m));
        return add_sentencepiece(m, v, w);
    }
    if (m.arch == "llama" && tc.is_object() && tc.contains("add_prefix_space") && tc["add_prefix_space"].is_boolean()) {
        w.set("tokenizer.ggml.add_space_prefix", GgufValue{tc["add_prefix_space"].get<bool>()});
    }
    if (has_sentencepiece(m)) {
        Vocab v = sentencepiece_vocab(m);
        mark_added_base(v, added_tokens_decoder(m));
        add_sentencepiece(m, v, w);
        if (m.arch == "gemma3") w.set("tokenizer.ggml.add_space_prefix", GgufValue{false});
    } else {
        if (m.arch == "llama" && m.tokenizer_json.is_object() && m.tokenizer_json.contains("model") &&
            m.tokenizer_json["model"].value("byte_fallback", false) == true) {
            throw Error(m.file("tokenizer.json") + " is a SentencePiece-style BPE without its tokenizer.model; natter "
                        "converts that vocabulary from tokenizer.model");
        }
        add_bpe(m, w);
    }
    // LlamaModel: granite's small models (vocab 49152, SmolLM's too) add no BOS.
    if (m.arch == "llama") {
        const json* vs = m.find({"vocab_size"});
        if (vs != nullptr && vs->is_number_integer() && vs->get<int64_t>() == 49152) w.set("tokenizer.ggml.add_bos_token", GgufValue{false});
    }
}

int64_t vocabulary_size(const HfModel& m) {
    if (has_sentencepiece(m)) return static_cast<int64_t>(sentencepiece_vocab(m).tokens.size());
    const json& tj = m.tokenizer_json;
    if (!tj.is_object() || !tj.contains("model") || !tj["model"].contains("vocab")) {
        throw Error(m.dir.string() + " has neither tokenizer.model nor tokenizer.json, so it has no vocabulary to convert");
    }
    return static_cast<int64_t>(tj["model"]["vocab"].size() + tj.value("added_tokens", json::array()).size());
}

}  // namespace natter::tools
