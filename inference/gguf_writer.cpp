// GGUF v3 writer. Everything is validated when added, so that write() can only fail on
// I/O; the file appears under its name only once it is complete and on disk.
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "inference/gguf.h"

namespace natter {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian uint32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr char kAlignmentKey[] = "general.alignment";
// Real files use 32 (sometimes 64 or a page); the bound keeps padding buffers small.
constexpr int64_t kMaxAlignment = int64_t{1} << 20;

// Checks that an array's items all have its declared element type, recursively.
void validate_value(const GgufValue& value, const std::string& key) {
    const auto* array = std::get_if<GgufArray>(&value.value);
    if (array == nullptr) return;
    for (const GgufValue& item : array->items) {
        if (item.type() != array->element_type) {
            throw Error("metadata key '" + key + "': an array of " + std::string(gguf_type_name(array->element_type)) +
                        " holds an item of type " + std::string(gguf_type_name(item.type())));
        }
        validate_value(item, key);
    }
}

uint64_t validated_alignment(const GgufValue& value) {
    if (!value.is_integer()) {
        throw Error("metadata key 'general.alignment' must be an integer, not a " +
                    std::string(gguf_type_name(value.type())));
    }
    const int64_t a = value.as_int();
    if (a <= 0 || a > kMaxAlignment || !std::has_single_bit(static_cast<uint64_t>(a))) {
        throw Error("GGUF alignment " + std::to_string(a) + " is invalid; it must be a power of two up to " +
                    std::to_string(kMaxAlignment));
    }
    return static_cast<uint64_t>(a);
}

class Encoder {
public:
    std::vector<uint8_t> bytes;

    template <typename T>
    void put(T x) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &x, sizeof(T));
    }

    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
    }

    void put_value(const GgufValue& value) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::string>) {
                    put_string(x);
                } else if constexpr (std::is_same_v<T, GgufArray>) {
                    put<uint32_t>(static_cast<uint32_t>(x.element_type));
                    put<uint64_t>(x.items.size());
                    for (const GgufValue& item : x.items) put_value(item);
                } else if constexpr (std::is_same_v<T, bool>) {
                    put<uint8_t>(x ? 1 : 0);
                } else {
                    put<T>(x);
                }
            },
            value.value);
    }

    void pad_to(uint64_t alignment) { bytes.resize(padded(bytes.size(), alignment), 0); }

    static uint64_t padded(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }
};

// An open temporary file that is closed and removed unless commit() succeeded.
class TempFile {
public:
    TempFile(std::string final_path) : final_(std::move(final_path)), tmp_(final_ + ".tmp") {
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) fail("cannot create " + tmp_, errno);
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(tmp_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void write_all(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        while (n > 0) {
            const ssize_t written = ::write(fd_, p, n);
            if (written < 0 && errno == EINTR) continue;
            if (written < 0) fail("cannot write " + tmp_, errno);
            p += written;
            n -= static_cast<size_t>(written);
        }
    }

    void commit() {
        if (::fsync(fd_) != 0) fail("cannot flush " + tmp_ + " to disk", errno);
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail("cannot close " + tmp_, errno);
        if (::rename(tmp_.c_str(), final_.c_str()) != 0) fail("cannot rename " + tmp_ + " to " + final_, errno);
        committed_ = true;
    }

private:
    // err is errno, read by the caller before building the message can disturb it.
    [[noreturn]] void fail(const std::string& what, int err) const {
        throw Error(final_ + ": " + what + ": " + std::strerror(err));
    }

    std::string final_;
    std::string tmp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
    validate_value(value, key);
    if (key == kAlignmentKey) alignment_ = validated_alignment(value);
    for (auto& [k, v] : metadata_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::remove(std::string_view key) {
    std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
    if (key == kAlignmentKey) alignment_ = kDefaultAlignment;
}

void GgufWriter::set_alignment(uint64_t alignment) {
    if (alignment > static_cast<uint64_t>(kMaxAlignment)) {
        throw Error("GGUF alignment " + std::to_string(alignment) + " is invalid; it must be a power of two up to " +
                    std::to_string(kMaxAlignment));
    }
    set(kAlignmentKey, GgufValue{static_cast<uint32_t>(alignment)});
}

void GgufWriter::check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& shape,
                              size_t nbytes) const {
    const std::string what = "tensor '" + name + "'";
    for (const PendingTensor& t : tensors_) {
        if (t.name == name) throw Error(what + " is added twice");
    }
    if (shape.empty() || shape.size() > 4) {
        throw Error(what + " has " + std::to_string(shape.size()) + " dimensions; GGUF tensors have 1 to 4");
    }
    const std::optional<TypeTraits> traits = type_traits(static_cast<uint32_t>(type));
    if (!traits) throw Error(what + " has unsupported type " + std::to_string(static_cast<uint32_t>(type)));
    int64_t n_elements = 1;
    for (const int64_t dim : shape) {
        if (dim <= 0) throw Error(what + " has a dimension of size " + std::to_string(dim));
        if (__builtin_mul_overflow(n_elements, dim, &n_elements)) throw Error(what + " has too many elements");
    }
    if (shape[0] % traits->block_size != 0) {
        throw Error(what + " has a row of " + std::to_string(shape[0]) + " elements, not a multiple of the " +
                    std::string(traits->name) + " block size " + std::to_string(traits->block_size));
    }
    uint64_t expected = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(n_elements / traits->block_size), traits->type_size, &expected)) {
        throw Error(what + " is too large");
    }
    if (nbytes != expected) {
        throw Error(what + " has " + std::to_string(nbytes) + " bytes of data, but its " + std::string(traits->name) +
                    " shape needs " + std::to_string(expected));
    }
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape, const void* data,
                            size_t nbytes) {
    check_tensor(name, type, shape, nbytes);
    if (data == nullptr) throw Error("tensor '" + name + "' has no data");
    tensors_.push_back({std::move(name), type, std::move(shape), data, nbytes, nullptr});
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape, size_t nbytes,
                            TensorFill fill) {
    check_tensor(name, type, shape, nbytes);
    if (!fill) throw Error("tensor '" + name + "' has no data");
    tensors_.push_back({std::move(name), type, std::move(shape), nullptr, nbytes, std::move(fill)});
}

std::vector<uint8_t> GgufWriter::header() const {
    Encoder header;
    header.put<uint32_t>(kMagic);
    header.put<uint32_t>(kVersion);
    header.put<uint64_t>(tensors_.size());
    header.put<uint64_t>(metadata_.size());
    for (const auto& [key, value] : metadata_) {
        header.put_string(key);
        header.put<uint32_t>(static_cast<uint32_t>(value.type()));
        header.put_value(value);
    }
    uint64_t offset = 0;  // of each tensor within the data section
    for (const PendingTensor& t : tensors_) {
        header.put_string(t.name);
        header.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (const int64_t dim : t.shape) header.put<uint64_t>(static_cast<uint64_t>(dim));
        header.put<uint32_t>(static_cast<uint32_t>(t.type));
        header.put<uint64_t>(offset);
        offset = Encoder::padded(offset + t.nbytes, alignment_);
    }
    header.pad_to(alignment_);
    return std::move(header.bytes);
}

std::vector<uint8_t> GgufWriter::metadata_only() const {
    if (!tensors_.empty()) throw Error("GgufWriter::metadata_only: the file has tensors");
    return header();
}

void GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = header();
    TempFile file(path);
    file.write_all(bytes.data(), bytes.size());
    const std::vector<uint8_t> zeros(alignment_, 0);
    std::vector<uint8_t> made;  // the one tensor being filled
    for (const PendingTensor& t : tensors_) {
        if (t.fill) {
            made.resize(t.nbytes);
            t.fill(made);
            file.write_all(made.data(), t.nbytes);
        } else {
            file.write_all(t.data, t.nbytes);
        }
        file.write_all(zeros.data(), Encoder::padded(t.nbytes, alignment_) - t.nbytes);
    }
    file.commit();
}

}  // namespace natter
