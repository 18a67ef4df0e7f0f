// `natter info model.gguf`: the GGUF inspector. Prints the header, the metadata, the tensor
// table and totals, or all of it as JSON for scripts.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <string>

#include "cli/commands.h"
#include "core/paths.h"
#include "inference/gguf.h"

namespace natter::cli {

namespace {

struct InfoOptions {
    std::string path;
    bool no_tensors = false;
    bool full = false;
    bool json = false;
};

// Values longer than this many characters are cut with an ellipsis unless --full.
constexpr size_t kMaxValueChars = 96;
constexpr size_t kMaxArrayItems = 8;

std::string human_bytes(uint64_t n) {
    static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) return std::to_string(n) + " B";
    double x = static_cast<double>(n);
    int unit = -1;
    while (x >= 1024 && unit < 3) {
        x /= 1024;
        ++unit;
    }
    return format_number("%.2f ", x) + kUnits[unit];
}

std::string human_count(uint64_t n) {
    const double x = static_cast<double>(n);
    if (x >= 1e9) return format_number("%.2f B", x / 1e9);
    if (x >= 1e6) return format_number("%.2f M", x / 1e6);
    if (x >= 1e3) return format_number("%.2f K", x / 1e3);
    return std::to_string(n);
}

// Cuts s to at most max code points (UTF-8), marking the cut with an ellipsis.
std::string truncate_display(const std::string& s, size_t max) {
    size_t chars = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
        if (++chars > max) return s.substr(0, i) + "…";
    }
    return s;
}

std::string type_label(const GgufValue& v) {
    if (const auto* a = std::get_if<GgufArray>(&v.value)) {
        return std::string(gguf_type_name(a->element_type)) + "[" + std::to_string(a->items.size()) + "]";
    }
    return std::string(gguf_type_name(v.type()));
}

std::string shape_label(const std::vector<int64_t>& shape) {
    std::string out;
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? " x " : "") + std::to_string(shape[i]);
    return out;
}

std::string pad(std::string s, size_t width) {
    // Width in code points, so that names with non-ASCII characters still line up.
    size_t chars = 0;
    for (const char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (chars < width) s.append(width - chars, ' ');
    return s;
}

struct TypeTotals {
    uint64_t tensors = 0;
    uint64_t params = 0;
    uint64_t bytes = 0;
};

struct Totals {
    TypeTotals all;
    std::map<std::string, TypeTotals> by_type;  // sorted by type name
};

Totals compute_totals(const GgufFile& file) {
    Totals totals;
    for (const GgufTensor& t : file.tensors()) {
        for (TypeTotals* x : {&totals.all, &totals.by_type[std::string(type_name(t.type))]}) {
            x->tensors += 1;
            x->params += static_cast<uint64_t>(t.n_elements());
            x->bytes += t.nbytes;
        }
    }
    return totals;
}

double bits_per_weight(const TypeTotals& t) {
    return t.params ? 8.0 * static_cast<double>(t.bytes) / static_cast<double>(t.params) : 0.0;
}

void print_header(const GgufFile& file) {
    std::printf("File        %s\n", file.path().c_str());
    std::printf("Format      GGUF version %u, %s (%llu bytes)\n", file.version(), human_bytes(file.file_size()).c_str(),
                static_cast<unsigned long long>(file.file_size()));
    std::printf("Alignment   %llu bytes; tensor data starts at byte %llu\n",
                static_cast<unsigned long long>(file.alignment()), static_cast<unsigned long long>(file.data_offset()));
    std::printf("Contents    %zu metadata keys, %zu tensors\n", file.metadata().size(), file.tensors().size());
}

void print_metadata(const GgufFile& file, bool full) {
    size_t key_width = 3;
    size_t type_width = 4;
    for (const auto& [key, value] : file.metadata()) {
        key_width = std::max(key_width, std::min<size_t>(key.size(), 48));
        type_width = std::max(type_width, type_label(value).size());
    }
    std::printf("\nMetadata\n  %s  %s  VALUE\n", pad("KEY", key_width).c_str(), pad("TYPE", type_width).c_str());
    for (const auto& [key, value] : file.metadata()) {
        std::string shown = value.to_display_string(full ? std::numeric_limits<size_t>::max() : kMaxArrayItems);
        if (!full) shown = truncate_display(shown, kMaxValueChars);
        std::printf("  %s  %s  %s\n", pad(key, key_width).c_str(), pad(type_label(value), type_width).c_str(),
                    shown.c_str());
    }
}

void print_tensors(const GgufFile& file) {
    if (file.tensors().empty()) {
        std::printf("\nTensors\n  (none)\n");
        return;
    }
    size_t name_width = 4;
    size_t shape_width = 5;
    for (const GgufTensor& t : file.tensors()) {
        name_width = std::max(name_width, std::min<size_t>(t.name.size(), 64));
        shape_width = std::max(shape_width, shape_label(t.shape).size());
    }
    const size_t index_width = std::to_string(file.tensors().size()).size();
    std::printf("\nTensors\n  %*s  %s  %-6s  %s  %10s\n", static_cast<int>(index_width), "#",
                pad("NAME", name_width).c_str(), "TYPE", pad("SHAPE", shape_width).c_str(), "SIZE");
    size_t index = 0;
    for (const GgufTensor& t : file.tensors()) {
        std::printf("  %*zu  %s  %-6s  %s  %10s\n", static_cast<int>(index_width), index++,
                    pad(t.name, name_width).c_str(), std::string(type_name(t.type)).c_str(),
                    pad(shape_label(t.shape), shape_width).c_str(), human_bytes(t.nbytes).c_str());
    }
}

void print_totals(const Totals& totals) {
    std::printf("\nTotals\n");
    // Exact counts in parentheses only where the human-readable form rounds.
    const std::string params = std::to_string(totals.all.params);
    const std::string bytes = std::to_string(totals.all.bytes);
    std::printf("  parameters   %s%s\n", human_count(totals.all.params).c_str(),
                totals.all.params < 1000 ? "" : (" (" + params + ")").c_str());
    std::printf("  tensor data  %s%s, %.2f bits per weight\n", human_bytes(totals.all.bytes).c_str(),
                totals.all.bytes < 1024 ? "" : (" (" + bytes + " bytes)").c_str(), bits_per_weight(totals.all));
    std::printf("  by type      %-6s  %8s  %12s  %12s  %s\n", "TYPE", "TENSORS", "PARAMETERS", "SIZE", "BITS/WEIGHT");
    for (const auto& [name, t] : totals.by_type) {
        std::printf("               %-6s  %8llu  %12s  %12s  %.2f\n", name.c_str(),
                    static_cast<unsigned long long>(t.tensors), human_count(t.params).c_str(),
                    human_bytes(t.bytes).c_str(), bits_per_weight(t));
    }
}

using Json = nlohmann::ordered_json;

Json value_json(const GgufValue& value) {
    return std::visit(
        [](const auto& x) -> Json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, GgufArray>) {
                Json items = Json::array();
                for (const GgufValue& item : x.items) items.push_back(value_json(item));
                return items;
            } else {
                return Json(x);
            }
        },
        value.value);
}

Json totals_json(const TypeTotals& t) {
    return {{"tensors", t.tensors}, {"parameters", t.params}, {"bytes", t.bytes},
            {"bits_per_weight", bits_per_weight(t)}};
}

Json info_json(const GgufFile& file, const InfoOptions& options) {
    Json out = {{"path", file.path()},
                {"version", file.version()},
                {"file_size", file.file_size()},
                {"alignment", file.alignment()},
                {"data_offset", file.data_offset()},
                {"tensor_count", file.tensors().size()},
                {"metadata_count", file.metadata().size()}};
    Json metadata = Json::object();
    for (const auto& [key, value] : file.metadata()) {
        Json entry = {{"type", gguf_type_name(value.type())}};
        if (const auto* a = std::get_if<GgufArray>(&value.value)) {
            entry["element_type"] = gguf_type_name(a->element_type);
        }
        entry["value"] = value_json(value);
        metadata[key] = std::move(entry);
    }
    out["metadata"] = std::move(metadata);
    if (!options.no_tensors) {
        Json tensors = Json::array();
        for (const GgufTensor& t : file.tensors()) {
            tensors.push_back({{"name", t.name},
                               {"type", type_name(t.type)},
                               {"shape", t.shape},
                               {"n_elements", t.n_elements()},
                               {"offset", t.offset},
                               {"nbytes", t.nbytes}});
        }
        out["tensors"] = std::move(tensors);
    }
    const Totals totals = compute_totals(file);
    Json by_type = Json::object();
    for (const auto& [name, t] : totals.by_type) by_type[name] = totals_json(t);
    out["totals"] = totals_json(totals.all);
    out["totals"]["by_type"] = std::move(by_type);
    return out;
}

void run_info(const InfoOptions& options) {
    const GgufFile file = GgufFile::open(paths::resolve_model_path(options.path));
    if (options.json) {
        // Metadata strings are not guaranteed to be UTF-8; invalid bytes become U+FFFD.
        const std::string text = info_json(file, options).dump(2, ' ', false, Json::error_handler_t::replace);
        std::printf("%s\n", text.c_str());
        return;
    }
    print_header(file);
    print_metadata(file, options.full);
    if (!options.no_tensors) print_tensors(file);
    if (!file.tensors().empty()) print_totals(compute_totals(file));
}

}  // namespace

void add_info_command(CLI::App& app) {
    auto options = std::make_shared<InfoOptions>();
    CLI::App* cmd = app.add_subcommand("info", "Show a GGUF file's metadata and tensors");
    cmd->add_option("model", options->path, "GGUF file to inspect, or a model name (natter models)")->required();
    cmd->add_flag("--no-tensors", options->no_tensors, "Leave out the tensor table");
    cmd->add_flag("--full", options->full, "Show long strings and arrays in full");
    cmd->add_flag("--json", options->json, "Print everything as JSON");
    cmd->callback([options] { run_info(*options); });
}

}  // namespace natter::cli
