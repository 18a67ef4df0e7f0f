#include "inference/tensor_dump.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace natter::tensor_dump {
namespace {

struct State {
    std::filesystem::path root;
    std::filesystem::path step;
    int evals = 0;
};

State& state() {
    static State s = [] {
        State init;
        const char* dir = std::getenv("NATTER_DUMP_DIR");
        if (dir && *dir) init.root = dir;
        return init;
    }();
    return s;
}

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

}  // namespace

bool enabled() { return !state().root.empty(); }

void begin_eval() {
    State& s = state();
    if (s.root.empty()) return;
    s.step = s.root / (s.evals == 0 ? std::string("prompt") : "gen" + std::to_string(s.evals - 1));
    ++s.evals;
    std::filesystem::create_directories(s.step);
}

void write(const std::string& name, const float* data, std::initializer_list<int64_t> shape) {
    const State& s = state();
    if (s.root.empty() || s.step.empty()) return;
    write_npy(s.step / (name + ".npy"), data, shape);
}

void write(const std::string& name, int layer, const float* data, std::initializer_list<int64_t> shape) {
    if (!enabled()) return;
    write(name + "-" + std::to_string(layer), data, shape);
}

}  // namespace natter::tensor_dump
