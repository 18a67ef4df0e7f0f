// GGUF reader. The file is untrusted: every count, length, offset and size is checked
// against the bytes that are really there before it is used, with overflow-safe arithmetic,
// and each problem becomes one natter::Error naming the file, what is wrong and where.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <unordered_set>

#include "core/error.h"
#include "inference/gguf.h"

namespace natter {

static_assert(std::endian::native == std::endian::little, "GGUF is read by reinterpreting little-endian bytes");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Nested arrays deeper than this are not used by any model; the limit bounds recursion.
constexpr int kMaxArrayDepth = 16;
// Real vocabularies have at most a few hundred thousand entries per array; the limit bounds
// the memory a hostile file can make us allocate (each value costs ~40 bytes in memory).
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;
// Smallest encodings, used to reject counts that cannot fit in the remaining bytes.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

std::string quoted(std::string_view s) {
    std::string out = "'";
    for (const char c : s.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    if (s.size() > 200) out += "...";
    return out + "'";
}

// Size in bytes of a scalar value type, or 0 for string/array/unknown.
uint64_t scalar_size(uint32_t type) {
    switch (static_cast<GgufType>(type)) {
        case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
        case GgufType::UINT16: case GgufType::INT16: return 2;
        case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
        case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
        default: return 0;
    }
}

// Names of the GGUF tensor types we do not support, so that the error can say which one
// a file uses (numbers as in the GGUF specification).
std::string ggml_type_label(uint32_t type) {
    static constexpr std::pair<uint32_t, const char*> kOthers[] = {
        {4, "Q4_2 (removed)"}, {5, "Q4_3 (removed)"}, {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"},
        {19, "IQ1_S"}, {20, "IQ4_NL"}, {21, "IQ3_S"}, {22, "IQ2_S"}, {23, "IQ4_XS"}, {24, "I8"}, {25, "I16"},
        {26, "I32"}, {27, "I64"}, {28, "F64"}, {29, "IQ1_M"}, {34, "TQ1_0"}, {35, "TQ2_0"}, {39, "MXFP4"},
        {40, "NVFP4"}, {41, "Q1_0"},
    };
    for (const auto& [number, name] : kOthers) {
        if (number == type) return std::to_string(type) + " (" + name + ")";
    }
    return std::to_string(type);
}

bool known_value_type(uint32_t type) { return type <= static_cast<uint32_t>(GgufType::FLOAT64); }

// Smallest possible encoding of one value of the given (known) type.
uint64_t min_value_size(uint32_t type) {
    if (type == static_cast<uint32_t>(GgufType::STRING)) return 8;
    if (type == static_cast<uint32_t>(GgufType::ARRAY)) return 4 + 8;
    return scalar_size(type);
}

// A bounds-checked cursor over the file's bytes.
class Reader {
public:
    Reader(std::span<const uint8_t> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return bytes_.size() - pos_; }
    uint64_t size() const { return bytes_.size(); }

    [[noreturn]] void fail(const std::string& message) const { throw Error(source_ + ": " + message); }

    void need(uint64_t n, std::string_view what) const {
        if (n > remaining()) {
            fail("file is truncated: " + std::string(what) + " at byte " + std::to_string(pos_) + " needs " +
                 std::to_string(n) + " bytes but only " + std::to_string(remaining()) +
                 " remain (file size " + std::to_string(size()) + ")");
        }
    }

    template <typename T>
    T read(std::string_view what) {
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    std::string read_string(std::string_view what) {
        const uint64_t start = pos_;
        const uint64_t length = read<uint64_t>(what);
        if (length > remaining()) {
            fail("file is truncated or corrupt: " + std::string(what) + " at byte " + std::to_string(start) +
                 " has length " + std::to_string(length) + " but only " + std::to_string(remaining()) +
                 " bytes remain (file size " + std::to_string(size()) + ")");
        }
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
        pos_ += length;
        return s;
    }

private:
    std::span<const uint8_t> bytes_;
    const std::string& source_;
    uint64_t pos_ = 0;
};

uint64_t checked_add(const Reader& r, uint64_t a, uint64_t b, std::string_view what) {
    uint64_t sum;
    if (__builtin_add_overflow(a, b, &sum)) r.fail(std::string(what) + " overflows 64 bits");
    return sum;
}

uint64_t checked_mul(const Reader& r, uint64_t a, uint64_t b, std::string_view what) {
    uint64_t product;
    if (__builtin_mul_overflow(a, b, &product)) r.fail(std::string(what) + " overflows 64 bits");
    return product;
}

// Rounds up to a multiple of a power-of-two alignment.
uint64_t align_up(const Reader& r, uint64_t x, uint64_t alignment, std::string_view what) {
    return checked_add(r, x, alignment - 1, what) & ~(alignment - 1);
}

class MetadataParser {
public:
    explicit MetadataParser(Reader& r) : r_(r) {}

    // `what` describes the value for truncation errors; it is built once per key or array,
    // not per array item.
    GgufValue value(uint32_t type, const std::string& key, const std::string& what, int depth) {
        switch (static_cast<GgufType>(type)) {
            case GgufType::UINT8: return GgufValue{r_.read<uint8_t>(what)};
            case GgufType::INT8: return GgufValue{r_.read<int8_t>(what)};
            case GgufType::UINT16: return GgufValue{r_.read<uint16_t>(what)};
            case GgufType::INT16: return GgufValue{r_.read<int16_t>(what)};
            case GgufType::UINT32: return GgufValue{r_.read<uint32_t>(what)};
            case GgufType::INT32: return GgufValue{r_.read<int32_t>(what)};
            case GgufType::FLOAT32: return GgufValue{r_.read<float>(what)};
            case GgufType::BOOL: return GgufValue{r_.read<uint8_t>(what) != 0};
            case GgufType::STRING: return GgufValue{r_.read_string(what)};
            case GgufType::ARRAY: return GgufValue{array(key, depth)};
            case GgufType::UINT64: return GgufValue{r_.read<uint64_t>(what)};
            case GgufType::INT64: return GgufValue{r_.read<int64_t>(what)};
            case GgufType::FLOAT64: return GgufValue{r_.read<double>(what)};
        }
        r_.fail("metadata key " + quoted(key) + " has unknown value type " + std::to_string(type));
    }

    void count_value(const std::string& key) {
        if (++n_values_ > kMaxMetadataValues) {
            r_.fail("metadata key " + quoted(key) + " at byte " + std::to_string(r_.pos()) +
                    " brings the metadata past the limit of " + std::to_string(kMaxMetadataValues) + " values");
        }
    }

private:
    GgufArray array(const std::string& key, int depth) {
        const uint64_t start = r_.pos();
        if (depth >= kMaxArrayDepth) {
            r_.fail("metadata key " + quoted(key) + " at byte " + std::to_string(start) + " nests arrays deeper than " +
                    std::to_string(kMaxArrayDepth) + " levels");
        }
        const uint32_t element_type = r_.read<uint32_t>("the array element type of metadata key " + quoted(key));
        if (!known_value_type(element_type)) {
            r_.fail("metadata key " + quoted(key) + " at byte " + std::to_string(start) +
                    " is an array of unknown value type " + std::to_string(element_type));
        }
        const uint64_t count = r_.read<uint64_t>("the array length of metadata key " + quoted(key));
        const uint64_t min_size = min_value_size(element_type);
        if (count > r_.remaining() / min_size) {
            r_.fail("metadata key " + quoted(key) + " at byte " + std::to_string(start) + " claims an array of " +
                    std::to_string(count) + " " + std::string(gguf_type_name(GgufType(element_type))) +
                    " items, which cannot fit in the remaining " + std::to_string(r_.remaining()) +
                    " bytes (the file is truncated or corrupt)");
        }
        GgufArray out;
        out.element_type = static_cast<GgufType>(element_type);
        out.items.reserve(count);
        const std::string item_what = "an array item of metadata key " + quoted(key);
        for (uint64_t i = 0; i < count; ++i) {
            count_value(key);
            out.items.push_back(value(element_type, key, item_what, depth + 1));
        }
        return out;
    }

    Reader& r_;
    uint64_t n_values_ = 0;
};

}  // namespace

struct GgufFile::Mapping {
    void* address = nullptr;
    size_t size = 0;
    ~Mapping() {
        if (address != nullptr) munmap(address, size);
    }
};

void GgufFile::release(const void* p, size_t n) const {
    if (!mapping_ || n == 0) return;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<uintptr_t>(mapping_->address);
    const uintptr_t begin = std::max(base, (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page);
    const uintptr_t end = std::min(base + mapping_->size, (reinterpret_cast<uintptr_t>(p) + n) / page * page);
    // Clean pages of a read-only private mapping: dropped now, read from the file again if
    // touched (an advice, so a failure changes nothing).
    if (begin < end) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(path + ": cannot stat: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        throw Error(path + ": file is empty (0 bytes), not a GGUF file");
    }
    auto mapping = std::make_unique<Mapping>();
    mapping->size = static_cast<size_t>(st.st_size);
    void* address = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file's contents reachable
    if (address == MAP_FAILED) throw Error(path + ": cannot map into memory: " + std::strerror(err));
    mapping->address = address;

    GgufFile file = parse({static_cast<const uint8_t*>(address), mapping->size}, path);
    file.mapping_ = std::move(mapping);
    return file;
}

namespace {

void read_header(Reader& r, uint32_t& version, uint64_t& n_tensors, uint64_t& n_kv) {
    if (r.size() < 4) r.fail("file is too short to be a GGUF file (" + std::to_string(r.size()) + " bytes)");
    const uint32_t magic = r.read<uint32_t>("the magic number");
    if (magic != kMagic) {
        char text[5] = {};
        std::memcpy(text, &magic, 4);
        for (char& c : text) c = (c >= 0x20 && c < 0x7F) ? c : '.';
        r.fail("not a GGUF file: the magic number at byte 0 is '" + std::string(text, 4) + "' instead of 'GGUF'");
    }
    version = r.read<uint32_t>("the version number");
    if (version == 1) {
        r.fail("GGUF version 1 is not supported (only versions 2 and 3); convert the model again with a current converter");
    }
    if (version != 2 && version != 3) {
        const bool swapped = version == 0x02000000 || version == 0x03000000;
        r.fail("unsupported GGUF version " + std::to_string(version) + " at byte 4" +
               (swapped ? " (this looks like a big-endian GGUF, which is not supported)" : " (supported: 2 and 3)"));
    }
    n_tensors = r.read<uint64_t>("the tensor count");
    n_kv = r.read<uint64_t>("the metadata count");
    if (n_kv > r.remaining() / kMinKvBytes) {
        r.fail("metadata count " + std::to_string(n_kv) + " at byte 16 is impossible: the remaining " +
               std::to_string(r.remaining()) + " bytes hold at most " + std::to_string(r.remaining() / kMinKvBytes) +
               " entries (the file is truncated or corrupt)");
    }
}

uint64_t alignment_from(const Reader& r, const GgufValue& value) {
    if (!value.is_integer()) {
        r.fail("metadata key 'general.alignment' has type " + std::string(gguf_type_name(value.type())) +
               "; it must be an unsigned integer");
    }
    uint64_t a = 0;
    try {
        a = value.as_uint();
    } catch (const Error&) {
        r.fail("metadata key 'general.alignment' is negative; it must be a nonzero power of two");
    }
    if (!std::has_single_bit(a)) {
        r.fail("metadata key 'general.alignment' is " + std::to_string(a) + "; it must be a nonzero power of two");
    }
    return a;
}

GgufTensor read_tensor_info(Reader& r, uint64_t index, uint64_t alignment) {
    GgufTensor t;
    const uint64_t start = r.pos();
    t.name = r.read_string("the name of tensor " + std::to_string(index));
    const std::string name = "tensor " + quoted(t.name);
    const uint32_t n_dims = r.read<uint32_t>("the dimension count of " + name);
    if (n_dims < 1 || n_dims > kMaxDims) {
        r.fail(name + " at byte " + std::to_string(start) + " has " + std::to_string(n_dims) +
               " dimensions; GGUF tensors have 1 to " + std::to_string(kMaxDims));
    }
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t dim = r.read<uint64_t>("the shape of " + name);
        if (dim == 0 || dim > static_cast<uint64_t>(INT64_MAX)) {
            r.fail(name + " at byte " + std::to_string(start) + " has invalid dimension " + std::to_string(d) +
                   " of size " + std::to_string(dim));
        }
        if (__builtin_mul_overflow(n_elements, dim, &n_elements) || n_elements > static_cast<uint64_t>(INT64_MAX)) {
            r.fail(name + " at byte " + std::to_string(start) + " has a shape whose element count overflows");
        }
        t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type = r.read<uint32_t>("the type of " + name);
    const std::optional<TypeTraits> traits = type_traits(type);
    if (!traits) r.fail(name + " has unknown or unsupported tensor type " + ggml_type_label(type));
    t.type = static_cast<GgmlType>(type);
    if (t.shape[0] % traits->block_size != 0) {
        r.fail(name + " has a row of " + std::to_string(t.shape[0]) + " elements, which is not a multiple of the " +
               std::string(traits->name) + " block size " + std::to_string(traits->block_size));
    }
    const uint64_t n_blocks = n_elements / static_cast<uint64_t>(traits->block_size);
    t.nbytes = checked_mul(r, n_blocks, traits->type_size, "the data size of " + name);
    t.offset = r.read<uint64_t>("the data offset of " + name);
    if (t.offset % alignment != 0) {
        r.fail(name + " has data offset " + std::to_string(t.offset) + ", which is not a multiple of the alignment " +
               std::to_string(alignment));
    }
    return t;
}

// Points each tensor at its bytes after checking that the bytes exist and no two overlap.
void place_tensors(const Reader& r, std::vector<GgufTensor>& tensors, std::span<const uint8_t> bytes,
                   uint64_t data_offset) {
    for (GgufTensor& t : tensors) {
        const uint64_t begin = checked_add(r, data_offset, t.offset, "the data offset of tensor " + quoted(t.name));
        const uint64_t end = checked_add(r, begin, t.nbytes, "the data end of tensor " + quoted(t.name));
        if (end > bytes.size()) {
            r.fail("tensor " + quoted(t.name) + " data (offset " + std::to_string(begin) + ", " +
                   std::to_string(t.nbytes) + " bytes) extends past the end of the file (size " +
                   std::to_string(bytes.size()) + ")");
        }
        t.data = bytes.data() + begin;
    }
    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(tensors.size());
    for (const GgufTensor& t : tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const GgufTensor& a = *by_offset[i - 1];
        const GgufTensor& b = *by_offset[i];
        if (b.offset < a.offset + a.nbytes) {  // cannot overflow: both end inside the file
            r.fail("tensor " + quoted(b.name) + " data (offset " + std::to_string(data_offset + b.offset) +
                   ") overlaps tensor " + quoted(a.name) + " (offset " + std::to_string(data_offset + a.offset) +
                   ", " + std::to_string(a.nbytes) + " bytes)");
        }
    }
}

}  // namespace

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string source_name) {
    GgufFile file;
    file.path_ = std::move(source_name);
    file.bytes_ = bytes;
    Reader r(bytes, file.path_);

    uint64_t n_tensors = 0;
    uint64_t n_kv = 0;
    read_header(r, file.version_, n_tensors, n_kv);

    MetadataParser metadata(r);
    std::unordered_set<std::string> keys;
    file.metadata_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t start = r.pos();
        std::string key = r.read_string("the key of metadata entry " + std::to_string(i));
        if (!keys.insert(key).second) {
            r.fail("metadata key " + quoted(key) + " at byte " + std::to_string(start) + " appears twice");
        }
        const uint32_t type = r.read<uint32_t>("the value type of metadata key " + quoted(key));
        if (!known_value_type(type)) {
            r.fail("metadata key " + quoted(key) + " at byte " + std::to_string(start) + " has unknown value type " +
                   std::to_string(type));
        }
        metadata.count_value(key);
        GgufValue value = metadata.value(type, key, "the value of metadata key " + quoted(key), 0);
        file.metadata_.emplace_back(std::move(key), std::move(value));
    }
    if (const GgufValue* a = file.find("general.alignment")) file.alignment_ = alignment_from(r, *a);
    else file.alignment_ = kDefaultAlignment;

    if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
        r.fail("tensor count " + std::to_string(n_tensors) + " at byte 8 is impossible: the " +
               std::to_string(r.remaining()) + " bytes after the metadata hold at most " +
               std::to_string(r.remaining() / kMinTensorInfoBytes) +
               " tensor descriptions (the file is truncated or corrupt)");
    }
    std::unordered_set<std::string> names;
    file.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t start = r.pos();
        GgufTensor t = read_tensor_info(r, i, file.alignment_);
        if (!names.insert(t.name).second) {
            r.fail("tensor " + quoted(t.name) + " at byte " + std::to_string(start) + " appears twice");
        }
        file.tensors_.push_back(std::move(t));
    }
    file.data_offset_ = align_up(r, r.pos(), file.alignment_, "the start of the tensor data");
    place_tensors(r, file.tensors_, bytes, file.data_offset_);
    return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
    for (const auto& [k, v] : metadata_) {
        if (k == key) return &v;
    }
    return nullptr;
}

const GgufValue& GgufFile::get(std::string_view key) const {
    if (const GgufValue* v = find(key)) return *v;
    throw Error(path_ + ": metadata key " + quoted(key) + " is missing");
}

namespace {

// Runs a conversion, adding the file and key to its error message.
template <typename F>
auto converted(const std::string& path, std::string_view key, F&& convert) {
    try {
        return convert();
    } catch (const Error& e) {
        throw Error(path + ": metadata key " + quoted(key) + ": " + e.what());
    }
}

}  // namespace

int64_t GgufFile::get_int(std::string_view key, int64_t fallback) const {
    const GgufValue* v = find(key);
    return v ? converted(path_, key, [&] { return v->as_int(); }) : fallback;
}

double GgufFile::get_float(std::string_view key, double fallback) const {
    const GgufValue* v = find(key);
    return v ? converted(path_, key, [&] { return v->as_float(); }) : fallback;
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
    const GgufValue* v = find(key);
    return v ? converted(path_, key, [&] { return v->as_bool(); }) : fallback;
}

std::string GgufFile::get_string(std::string_view key, std::string_view fallback) const {
    const GgufValue* v = find(key);
    return v ? converted(path_, key, [&] { return v->as_string(); }) : std::string(fallback);
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
    for (const GgufTensor& t : tensors_) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

int64_t GgufTensor::n_elements() const {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

int64_t GgufTensor::rows() const {
    if (shape.empty()) return 1;
    return std::accumulate(shape.begin() + 1, shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

}  // namespace natter
