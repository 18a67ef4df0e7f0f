#include "inference/tensor_dump.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/error.h"

namespace natter::tensor_dump {
namespace {

// NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded with
// spaces to a multiple of 64 bytes and ending in a newline, then the raw little-endian data.
void write_npy(const std::filesystem::path& path, const float* data, std::initializer_list<int64_t> shape) {
    std::string dims;
    int64_t count = 1;
    for (int64_t n : shape) {
        dims += std::to_string(n) + ",";
        count *= n;
    }
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    const size_t prefix = 10;  // magic (6) + version (2) + header length (2)
    header.append(63 - (prefix + header.size()) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error("cannot write the tensor dump " + path.string());
    const uint16_t header_len = static_cast<uint16_t>(header.size());
    out.write("\x93NUMPY\x01\x00", 8);
    out.write(reinterpret_cast<const char*>(&header_len), 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
}

// <base>[-<layer>][#<repeat>], the names dump_llamacpp_tensors.py gives llama.cpp's nodes.
std::string file_stem(const TraceName& name) {
    std::string s = name.base;
    if (name.layer >= 0) s.append("-").append(std::to_string(name.layer));
    if (name.repeat > 0) s.append("#").append(std::to_string(name.repeat));
    return s;
}

class NpyDump final : public Trace {
public:
    explicit NpyDump(std::filesystem::path root) : root_(std::move(root)) {}

    void begin_eval() override {
        step_ = root_ / (evals_ == 0 ? std::string("prompt") : "gen" + std::to_string(evals_ - 1));
        ++evals_;
        std::filesystem::create_directories(step_);
    }

    void tensor(const TraceName& name, const float* data, std::initializer_list<int64_t> shape) override {
        if (step_.empty()) return;
        write_npy(step_ / (file_stem(name) + ".npy"), data, shape);
    }

private:
    std::filesystem::path root_;
    std::filesystem::path step_;
    int evals_ = 0;
};

}  // namespace

Trace* from_environment() {
    static const std::unique_ptr<NpyDump> dump = []() -> std::unique_ptr<NpyDump> {
        const char* dir = std::getenv("NATTER_DUMP_DIR");
        return dir && *dir ? std::make_unique<NpyDump>(dir) : nullptr;
    }();
    return dump.get();
}

}  // namespace natter::tensor_dump
