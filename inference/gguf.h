#pragma once
// GGUF v2/v3 files: reading (memory-mapped, every length and offset checked) and writing.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quant/types.h"

namespace natter {

enum class GgufType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
    BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view gguf_type_name(GgufType type);

struct GgufValue;
struct GgufArray {
    GgufType element_type = GgufType::UINT8;
    std::vector<GgufValue> items;
};

// One metadata value. The variant's alternative matches type().
struct GgufValue {
    std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                 std::string, GgufArray, uint64_t, int64_t, double>
        value;

    GgufType type() const;
    bool is_integer() const;
    bool is_number() const;  // integer or float
    // Conversions; each throws natter::Error when the value is of another kind
    // (or an integer does not fit).
    int64_t as_int() const;
    uint64_t as_uint() const;
    double as_float() const;  // any number
    bool as_bool() const;
    const std::string& as_string() const;
    const GgufArray& as_array() const;
    std::vector<std::string> as_string_array() const;
    std::vector<float> as_float_array() const;   // any numeric element type
    std::vector<int64_t> as_int_array() const;   // any integer element type
    // Short human-readable rendering (arrays abbreviated), for `natter info`.
    std::string to_display_string(size_t max_items = 8) const;
};

struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> shape;  // shape[0] is the contiguous (row) dimension
    uint64_t offset = 0;         // from the start of the tensor data section
    size_t nbytes = 0;
    const uint8_t* data = nullptr;  // points into the mapping (or the caller's buffer)

    int64_t n_elements() const;
    int64_t rows() const;  // product of shape[1..]
};

class GgufFile {
public:
    // Maps the file read-only. Throws natter::Error naming the problem and where.
    static GgufFile open(const std::string& path);
    // Parses a buffer the caller keeps alive (used by tests and the fuzzer).
    static GgufFile parse(std::span<const uint8_t> bytes, std::string source_name = "<memory>");

    GgufFile(GgufFile&&) noexcept;
    GgufFile& operator=(GgufFile&&) noexcept;
    ~GgufFile();

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return bytes_.size(); }

    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
    const GgufValue* find(std::string_view key) const;
    const GgufValue& get(std::string_view key) const;  // throws if missing
    // Convenience: value of key or the fallback when absent (throws on wrong kind).
    int64_t get_int(std::string_view key, int64_t fallback) const;
    double get_float(std::string_view key, double fallback) const;
    bool get_bool(std::string_view key, bool fallback) const;
    std::string get_string(std::string_view key, std::string_view fallback) const;

    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* find_tensor(std::string_view name) const;
    // Gives the memory of the mapped pages inside [p, p + n) back to the system, when the
    // file is mapped (open); reading them later reads the file again. For tensors the model
    // keeps in another layout.
    void release(const void* p, size_t n) const;

private:
    GgufFile() = default;
    struct Mapping;
    std::unique_ptr<Mapping> mapping_;
    std::span<const uint8_t> bytes_;
    std::string path_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::vector<GgufTensor> tensors_;
};

// Builds a GGUF v3 file. Metadata keeps insertion order; setting a key again replaces it.
class GgufWriter {
public:
    void set(std::string key, GgufValue value);
    void remove(std::string_view key);
    // Copies nothing: data must stay valid until write() returns.
    void add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                    const void* data, size_t nbytes);
    // A tensor made while it is written: write() calls fill with a buffer of exactly nbytes
    // when it reaches the tensor, so one tensor at a time is in memory (a converter streams a
    // whole model this way). An exception from fill aborts the write; no file is left.
    using TensorFill = std::function<void(std::span<uint8_t>)>;
    void add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape, size_t nbytes, TensorFill fill);
    void set_alignment(uint64_t alignment);
    // Writes to path.tmp, fsyncs, then renames; on any failure removes the temporary
    // file and throws natter::Error.
    void write(const std::string& path) const;
    // The bytes of a file without tensors (a vocabulary, say), for GgufFile::parse.
    std::vector<uint8_t> metadata_only() const;

private:
    struct PendingTensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> shape;
        const void* data;
        size_t nbytes;
        TensorFill fill;  // set when data is null
    };
    std::vector<uint8_t> header() const;  // everything before the tensor data, padded
    void check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& shape, size_t nbytes) const;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::vector<PendingTensor> tensors_;
    uint64_t alignment_ = 32;
};

}  // namespace natter
