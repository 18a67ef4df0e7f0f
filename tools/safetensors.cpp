#include "tools/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace natter::tools {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A header is JSON describing the tensors; real ones are kilobytes to a few megabytes.
constexpr uint64_t kMaxHeader = uint64_t{256} << 20;

// The pickled formats natter will not unpickle, in the order a checkpoint folder is searched.
constexpr const char* kPickles[] = {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin",
                                    "consolidated.00.pth", "consolidated.pth"};

std::string name_of(const fs::path& p) { return p.filename().string(); }

}  // namespace

struct Checkpoint::Mapping {
    const uint8_t* base = nullptr;
    size_t size = 0;
    ~Mapping() {
        if (base != nullptr && size > 0) ::munmap(const_cast<uint8_t*>(base), size);
    }
};

size_t dtype_size(SafeDtype t) { return t == SafeDtype::F32 ? 4 : 2; }

const char* dtype_name(SafeDtype t) {
    switch (t) {
        case SafeDtype::F32: return "F32";
        case SafeDtype::F16: return "F16";
        case SafeDtype::BF16: return "BF16";
    }
    return "?";
}

int64_t SafeTensor::n_elements() const {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return n;
}

Checkpoint::Checkpoint() = default;
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

namespace {

// Parses one shard's header and appends its tensors.
void read_shard(const fs::path& path, const uint8_t* base, size_t size, std::vector<SafeTensor>& out) {
    const std::string file = path.string();
    if (size < 8) throw Error(file + " is truncated: it is " + std::to_string(size) + " bytes, shorter than a safetensors header");
    uint64_t n = 0;
    std::memcpy(&n, base, 8);
    if (n > kMaxHeader || n > size - 8) {
        throw Error(file + " is truncated or not safetensors: its header claims " + std::to_string(n) +
                    " bytes but the file has " + std::to_string(size - 8) + " after the length");
    }
    json header;
    try {
        header = json::parse(base + 8, base + 8 + n);
    } catch (const json::exception& e) {
        throw Error(file + " has a header that is not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!header.is_object()) throw Error(file + " has a header that is not a JSON object");
    const uint64_t data_start = 8 + n;
    const uint64_t data_size = size - data_start;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        const std::string what = file + ": tensor '" + name + "'";
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets") ||
            !entry["dtype"].is_string() || !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
            entry["data_offsets"].size() != 2) {
            throw Error(what + " lacks a dtype, a shape or two data_offsets");
        }
        const std::string dtype = entry["dtype"];
        SafeTensor t;
        t.name = name;
        t.file = file;
        if (dtype == "F32") t.dtype = SafeDtype::F32;
        else if (dtype == "F16") t.dtype = SafeDtype::F16;
        else if (dtype == "BF16") t.dtype = SafeDtype::BF16;
        else throw Error(what + " has dtype " + dtype + "; natter converts F32, F16 and BF16 tensors");
        uint64_t elements = 1;
        for (const json& d : entry["shape"]) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) throw Error(what + " has an invalid shape " + entry["shape"].dump());
            t.shape.push_back(d.get<int64_t>());
            if (__builtin_mul_overflow(elements, d.get<uint64_t>(), &elements)) throw Error(what + " has too many elements");
        }
        const json& off = entry["data_offsets"];
        if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) throw Error(what + " has invalid data_offsets");
        const uint64_t begin = off[0], end = off[1];
        if (begin > end || end > data_size) {
            throw Error(what + " lies at bytes " + std::to_string(begin) + ".." + std::to_string(end) +
                        " of the data, but the file holds " + std::to_string(data_size) + " (is it truncated?)");
        }
        if (end - begin != elements * dtype_size(t.dtype)) {
            throw Error(what + " has " + std::to_string(end - begin) + " bytes, but its shape " + entry["shape"].dump() +
                        " of " + dtype + " needs " + std::to_string(elements * dtype_size(t.dtype)));
        }
        t.data = base + data_start + begin;
        t.nbytes = end - begin;
        out.push_back(std::move(t));
    }
}

std::unique_ptr<Checkpoint::Mapping> map_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error("cannot read " + path.string() + ": " + std::strerror(err));
    }
    auto m = std::make_unique<Checkpoint::Mapping>();
    m->size = static_cast<size_t>(st.st_size);
    if (m->size > 0) {
        void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error("cannot map " + path.string() + ": " + std::strerror(err));
        }
        m->base = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return m;
}

// The shard files of an index, each once, in the order they first appear; checks each exists.
std::vector<std::string> index_shards(const fs::path& index_path, const json& index, const fs::path& dir) {
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
        throw Error(index_path.string() + " has no weight_map object");
    }
    std::vector<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
        if (!file.is_string()) throw Error(index_path.string() + ": tensor '" + tensor + "' is not mapped to a file name");
        const std::string f = file;
        if (f.find('/') != std::string::npos || f == ".." || f.empty()) {
            throw Error(index_path.string() + " maps tensor '" + tensor + "' to '" + f + "', which is not a file in the folder");
        }
        if (std::find(shards.begin(), shards.end(), f) == shards.end()) {
            if (!fs::is_regular_file(dir / f)) {
                throw Error(index_path.string() + " names shard " + f + " (for tensor '" + tensor + "'), which is missing");
            }
            shards.push_back(f);
        }
    }
    std::sort(shards.begin(), shards.end());
    return shards;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& dir_name) {
    const fs::path dir(dir_name);
    if (!fs::is_directory(dir)) throw Error(dir_name + " is not a folder; give the folder of a Hugging Face checkpoint");
    Checkpoint c;
    const fs::path single = dir / "model.safetensors";
    const fs::path index_path = dir / "model.safetensors.index.json";
    std::vector<std::string> shards;
    json index;
    if (fs::is_regular_file(index_path)) {
        std::ifstream in(index_path);
        try {
            index = json::parse(in);
        } catch (const json::exception& e) {
            throw Error(index_path.string() + " is not valid JSON (" + std::string(e.what()) + ")");
        }
        shards = index_shards(index_path, index, dir);
    } else if (fs::is_regular_file(single)) {
        shards.push_back(name_of(single));
    } else {
        for (const char* pickle : kPickles) {
            if (fs::exists(dir / pickle)) {
                throw Error(dir_name + " holds a pickled PyTorch checkpoint (" + pickle +
                            "), which natter does not load because unpickling can run code; save it as safetensors "
                            "first (in Python: AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, "
                            "safe_serialization=True))");
            }
        }
        throw Error(dir_name + " has no model.safetensors or model.safetensors.index.json");
    }
    for (const std::string& shard : shards) {
        c.mappings_.push_back(map_file(dir / shard));
        read_shard(dir / shard, c.mappings_.back()->base, c.mappings_.back()->size, c.tensors_);
    }
    std::set<std::string> seen;
    for (const SafeTensor& t : c.tensors_) {
        if (!seen.insert(t.name).second) throw Error(dir_name + ": tensor '" + t.name + "' is in more than one shard");
    }
    if (!index.is_null()) {
        for (const auto& [tensor, file] : index["weight_map"].items()) {
            const SafeTensor* t = c.find(tensor);
            if (t == nullptr || name_of(t->file) != file.get<std::string>()) {
                throw Error(index_path.string() + " puts tensor '" + tensor + "' in " + file.get<std::string>() +
                            ", which does not hold it");
            }
        }
    }
    return c;
}

const SafeTensor* Checkpoint::find(const std::string& name) const {
    for (const SafeTensor& t : tensors_) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

void Checkpoint::release(const uint8_t* data, size_t nbytes) {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
    const auto end = (reinterpret_cast<uintptr_t>(data) + nbytes) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

uint64_t Checkpoint::total_bytes() const {
    uint64_t n = 0;
    for (const SafeTensor& t : tensors_) n += t.nbytes;
    return n;
}

}  // namespace natter::tools
