#pragma once
// Helpers shared by the GGUF tests: a byte builder for hand-made (often hostile) files, a
// sample file with every value type and several tensor types, and a scratch directory.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "inference/gguf.h"

namespace natter::test {

// Little-endian bytes laid out by hand, exactly as the GGUF specification describes them.
struct Bytes {
    std::vector<uint8_t> b;

    template <typename T>
    Bytes& put(T x) {
        const auto* p = reinterpret_cast<const uint8_t*>(&x);
        b.insert(b.end(), p, p + sizeof(T));
        return *this;
    }
    Bytes& u32(uint32_t x) { return put(x); }
    Bytes& u64(uint64_t x) { return put(x); }
    Bytes& str(std::string_view s) {
        u64(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    // magic, version, tensor count, metadata count
    Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        b.insert(b.end(), {'G', 'G', 'U', 'F'});
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    Bytes& kv_u32(std::string_view key, uint32_t value) { return str(key).u32(4).u32(value); }
    Bytes& tensor_info(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(dims.size()));
        for (const uint64_t d : dims) u64(d);
        return u32(type).u64(offset);
    }
    Bytes& pad_to(size_t alignment) {
        b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
        return *this;
    }
    Bytes& zeros(size_t n) {
        b.resize(b.size() + n, 0);
        return *this;
    }
};

// Parses bytes and returns the error message; fails the test if parsing succeeds or throws
// anything but natter::Error.
inline std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        GgufFile::parse(bytes, "bad.gguf");
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "parsing succeeded but an error was expected";
    return {};
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory removed at the end of the test.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "natter-gguf-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The sample file: one of each value type, arrays (empty, nested) and tensors of several
// types. check_with_python.py knows the same values independently; keep the two in step.
struct SampleTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
};

inline uint8_t sample_byte(size_t tensor_index, size_t i) {
    return static_cast<uint8_t>((i * 31 + tensor_index * 7) & 0xFF);
}

std::vector<std::pair<std::string, GgufValue>> sample_metadata();
std::vector<SampleTensor> sample_tensors();
// Writes the sample file; alignment 32 is the default and writes no general.alignment key.
void write_sample(const std::filesystem::path& path, uint64_t alignment = 32);

inline GgufValue array_of(GgufType element_type, std::vector<GgufValue> items) {
    return GgufValue{GgufArray{element_type, std::move(items)}};
}

}  // namespace natter::test
