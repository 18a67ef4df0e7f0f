#include "tools/imatrix.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "inference/gguf.h"
#include "inference/model.h"
#include "inference/trace.h"

namespace natter::tools {

namespace {

// Smaller batches are skipped, as llama.cpp's collector skips them (src1->ne[1] < 16).
constexpr int kMinRows = 16;

// The forward pass's matmul inputs, summed per weight as llama.cpp's IMatrixCollector sums
// them: row after row, acc[j] += x[j] * x[j] in float (this library is built without FMA, so
// the product is rounded before the sum, as in llama.cpp's tool).
class Collector final : public Trace {
public:
    Collector(const Model& model, bool process_output) {
        for (const GgufTensor& t : model.file().tensors()) {
            const bool wanted = t.name.starts_with("blk.") || (process_output && t.name == "output.weight");
            if (wanted && t.shape.size() == 2) names_.emplace(t.data, t.name);
        }
    }

    void begin_eval() override {}
    void tensor(const TraceName&, const float*, std::initializer_list<int64_t>) override {}

    void matmul_input(const uint8_t* weight, const float* in, int rows, int64_t cols) override {
        if (rows < kMinRows) return;
        const auto it = names_.find(weight);
        if (it == names_.end()) return;  // not a blk.* weight, or a later part of a fused one
        ImatrixEntry& e = entries_[it->second];
        if (e.sums.empty()) {
            e.sums.assign(static_cast<size_t>(cols), 0.0f);
            e.counts.assign(1, 0);
        }
        float* acc = e.sums.data();
        for (int r = 0; r < rows; ++r) {
            const float* x = in + static_cast<size_t>(r) * static_cast<size_t>(cols);
            for (int64_t j = 0; j < cols; ++j) acc[j] += x[j] * x[j];
        }
        for (const float v : e.sums) {
            if (!std::isfinite(v)) throw Error("the activations into " + it->second + " are not finite");
        }
        e.counts[0] += rows;
    }

    std::map<std::string, ImatrixEntry> take() { return std::move(entries_); }

private:
    std::unordered_map<const uint8_t*, std::string> names_;
    std::map<std::string, ImatrixEntry> entries_;
};

// Writes through path.tmp, renamed over path once complete.
void write_bytes(const std::string& path, const std::vector<char>& bytes) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) {
            std::filesystem::remove(tmp);
            throw Error("cannot write " + path);
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp);
        throw Error("cannot write " + path + ": " + ec.message());
    }
}

template <typename T>
void put(std::vector<char>& out, T value) {
    char b[sizeof(T)];
    std::memcpy(b, &value, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
}

void put_string(std::vector<char>& out, const std::string& s) {
    put(out, static_cast<int32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
}

// llama.cpp's save_imatrix_legacy: the sums as mean * chunks, the chunks rounded up.
void write_dat(const Imatrix& m, const std::string& path) {
    std::vector<char> out;
    put(out, static_cast<int32_t>(m.entries.size()));
    const int64_t chunk_size = std::max(1, m.chunk_size);
    for (const auto& [name, e] : m.entries) {
        put_string(out, name);
        int64_t max_count = 0;
        for (const int64_t c : e.counts) max_count = std::max(max_count, c);
        const int32_t ncall = static_cast<int32_t>((max_count + chunk_size - 1) / chunk_size);
        put(out, ncall);
        const size_t nval = e.sums.size();
        put(out, static_cast<int32_t>(nval));
        const size_t per_mat = nval / e.counts.size();
        for (size_t i = 0; i < nval; ++i) {
            float count = static_cast<float>(e.counts[i / per_mat]);
            float value = e.sums[i];
            if (count == 0.0f) value = count = 1.0f;  // a matrix of a stack without tokens
            put(out, value / count * static_cast<float>(ncall));
        }
    }
    put(out, static_cast<int32_t>(m.chunk_count));
    put_string(out, m.datasets.empty() ? std::string() : m.datasets.back());
    write_bytes(path, out);
}

void write_gguf(const Imatrix& m, const std::string& path) {
    GgufWriter w;
    w.set("general.type", GgufValue{std::string("imatrix")});
    GgufArray datasets{GgufType::STRING, {}};
    for (const std::string& d : m.datasets) datasets.items.push_back(GgufValue{d});
    w.set("imatrix.datasets", GgufValue{datasets});
    w.set("imatrix.chunk_count", GgufValue{static_cast<uint32_t>(m.chunk_count)});
    w.set("imatrix.chunk_size", GgufValue{static_cast<uint32_t>(m.chunk_size)});
    std::vector<std::vector<float>> counts;  // the writer keeps pointers until write()
    counts.reserve(m.entries.size());
    for (const auto& [name, e] : m.entries) {
        const int64_t n_mat = static_cast<int64_t>(e.counts.size());
        const int64_t per_mat = static_cast<int64_t>(e.sums.size()) / n_mat;
        // ggml writes a 2-D [per_mat, n_mat] tensor with its trailing 1s dropped.
        std::vector<int64_t> shape = n_mat > 1 ? std::vector<int64_t>{per_mat, n_mat} : std::vector<int64_t>{per_mat};
        w.add_tensor(name + ".in_sum2", GgmlType::F32, shape, e.sums.data(), e.sums.size() * sizeof(float));
        std::vector<float>& c = counts.emplace_back();
        for (const int64_t n : e.counts) c.push_back(static_cast<float>(n));
        w.add_tensor(name + ".counts", GgmlType::F32, n_mat > 1 ? std::vector<int64_t>{1, n_mat} : std::vector<int64_t>{1},
                     c.data(), c.size() * sizeof(float));
    }
    w.write(path);
}

// A bounds-checked reader of the legacy file's little-endian fields.
class DatReader {
public:
    DatReader(std::string path, std::vector<char> bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}
    bool at_end() const { return pos_ == bytes_.size(); }
    int32_t i32(const char* what) {
        int32_t v = 0;
        take(&v, sizeof v, what);
        return v;
    }
    std::string string(const char* what) {
        const int32_t len = i32(what);
        if (len < 0 || static_cast<size_t>(len) > bytes_.size() - pos_) bad(what);
        std::string s(bytes_.data() + pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        return s;
    }
    void floats(std::vector<float>& out, size_t n, const char* what) {
        if (n > (bytes_.size() - pos_) / sizeof(float)) bad(what);
        out.resize(n);
        take(out.data(), n * sizeof(float), what);
    }
    [[noreturn]] void bad(const char* what) const {
        throw Error(path_ + " is neither a GGUF nor a legacy .dat importance matrix (" + what + " at byte " +
                    std::to_string(pos_) + " is cut off or invalid)");
    }

private:
    void take(void* dst, size_t n, const char* what) {
        if (n > bytes_.size() - pos_) bad(what);
        std::memcpy(dst, bytes_.data() + pos_, n);
        pos_ += n;
    }
    std::string path_;
    std::vector<char> bytes_;
    size_t pos_ = 0;
};

Imatrix read_dat(const std::string& path, std::vector<char> bytes) {
    DatReader r(path, std::move(bytes));
    Imatrix m;
    m.legacy = true;
    const int32_t n_entries = r.i32("the number of entries");
    if (n_entries < 1) r.bad("the number of entries");
    for (int32_t i = 0; i < n_entries; ++i) {
        std::string name = r.string("an entry's name");
        const int32_t ncall = r.i32("an entry's chunk count");
        const int32_t nval = r.i32("an entry's size");
        if (nval < 1) r.bad("an entry's size");
        ImatrixEntry& e = m.entries[std::move(name)];
        r.floats(e.sums, static_cast<size_t>(nval), "an entry's values");
        e.counts = {ncall};
    }
    if (!r.at_end()) {  // the chunk count and the dataset are optional
        m.chunk_count = r.i32("the chunk count");
        if (!r.at_end()) {
            std::string dataset = r.string("the dataset name");
            if (!dataset.empty()) m.datasets.push_back(std::move(dataset));
        }
    }
    return m;
}

Imatrix read_gguf(const std::string& path) {
    const GgufFile f = GgufFile::open(path);
    Imatrix m;
    if (const GgufValue* v = f.find("imatrix.datasets")) m.datasets = v->as_string_array();
    m.chunk_count = static_cast<int>(f.get_int("imatrix.chunk_count", 0));
    m.chunk_size = static_cast<int>(f.get_int("imatrix.chunk_size", 0));
    if (!f.find("imatrix.datasets") || !f.find("imatrix.chunk_count") || !f.find("imatrix.chunk_size")) {
        throw Error(path + " is a GGUF without the imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size keys "
                    "of an importance matrix");
    }
    std::map<std::string, std::pair<const GgufTensor*, const GgufTensor*>> parts;
    for (const GgufTensor& t : f.tensors()) {
        const auto ends = [&](std::string_view suffix) { return t.name.size() > suffix.size() && t.name.ends_with(suffix); };
        if (ends(".in_sum2")) parts[t.name.substr(0, t.name.size() - 8)].first = &t;
        else if (ends(".counts")) parts[t.name.substr(0, t.name.size() - 7)].second = &t;
    }
    if (parts.empty()) throw Error(path + " holds no importance matrix entries (NAME.in_sum2 and NAME.counts tensors)");
    for (const auto& [name, p] : parts) {
        const auto [sums, counts] = p;
        if (!sums || !counts) throw Error(path + ": " + name + " has sums without counts or counts without sums");
        if (sums->type != GgmlType::F32 || counts->type != GgmlType::F32) {
            throw Error(path + ": the sums and counts of " + name + " must be F32");
        }
        const auto n_sums = static_cast<size_t>(sums->n_elements());
        const auto n_counts = static_cast<size_t>(counts->n_elements());
        if (n_counts == 0 || n_sums % n_counts != 0) {
            throw Error(path + ": " + name + " has " + std::to_string(n_sums) + " sums for " + std::to_string(n_counts) +
                        " counts");
        }
        ImatrixEntry& e = m.entries[name];
        e.sums.resize(n_sums);
        std::memcpy(e.sums.data(), sums->data, n_sums * sizeof(float));
        std::vector<float> c(n_counts);
        std::memcpy(c.data(), counts->data, n_counts * sizeof(float));
        for (const float v : c) e.counts.push_back(std::lround(v));
    }
    return m;
}

}  // namespace

Imatrix compute_imatrix(const Model& model, std::span<const int32_t> tokens, const ImatrixOptions& options,
                        const std::function<void(const PerplexityChunk&)>& on_chunk) {
    Collector collector(model, options.process_output);
    const PerplexityOptions& eval = options.eval;
    const PerplexityResult r = compute_perplexity(model, tokens, eval, on_chunk, &collector);
    Imatrix m;
    m.entries = collector.take();
    if (!options.dataset.empty()) m.datasets.push_back(options.dataset);
    m.chunk_count = r.n_chunks;
    m.chunk_size = eval.n_ctx;
    return m;
}

void write_imatrix(const Imatrix& m, const std::string& path, ImatrixFormat format) {
    if (m.entries.empty()) throw Error("the importance matrix is empty: no matmul had " + std::to_string(kMinRows) +
                                       " rows or more (use a batch of at least " + std::to_string(kMinRows) + ")");
    if (format == ImatrixFormat::Dat) write_dat(m, path);
    else write_gguf(m, path);
}

Imatrix read_imatrix(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open the importance matrix " + path);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf(path);
    return read_dat(path, std::move(bytes));
}

std::map<std::string, std::vector<float>> importance_weights(const Imatrix& m) {
    std::map<std::string, std::vector<float>> out;
    for (const auto& [name, e] : m.entries) {
        std::vector<float>& w = out[name];
        w.resize(e.sums.size());
        const size_t per_mat = e.sums.size() / e.counts.size();
        for (size_t j = 0; j < e.counts.size(); ++j) {
            // legacy: divided by the chunk count (when it is positive); GGUF: by the token count.
            const float count = static_cast<float>(e.counts[j]);
            for (size_t i = j * per_mat; i < (j + 1) * per_mat; ++i) {
                w[i] = m.legacy ? (e.counts[j] > 0 ? e.sums[i] / count : e.sums[i]) : (count > 0.0f ? e.sums[i] / count : 1.0f);
            }
        }
    }
    return out;
}

}  // namespace natter::tools
