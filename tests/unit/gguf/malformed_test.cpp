// Truncated, corrupted and hostile GGUF files: each must give a natter::Error whose message
// names the problem, never a crash or a huge allocation.
#include <regex>

#include "gguf_test_util.h"

namespace natter::test {
namespace {

std::vector<uint8_t> sample_bytes() {
    ScratchDir dir;
    write_sample(dir / "sample.gguf");
    return read_file(dir / "sample.gguf");
}

#define EXPECT_ERROR_HAS(bytes, needle)                                          \
    do {                                                                         \
        const std::string message_ = parse_error(bytes);                         \
        EXPECT_NE(message_.find(needle), std::string::npos) << message_;         \
        EXPECT_EQ(message_.rfind("bad.gguf: ", 0), 0u) << "names the file: " << message_; \
    } while (0)

TEST(GgufMalformed, TruncationAtEveryByteIsAClearError) {
    const std::vector<uint8_t> bytes = sample_bytes();
    ASSERT_NO_THROW(GgufFile::parse(bytes, "whole.gguf"));
    const std::regex truncated("truncated|too short|extends past the end");
    for (size_t n = 0; n < bytes.size(); ++n) {
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
        const std::string message = parse_error(prefix);
        ASSERT_TRUE(std::regex_search(message, truncated)) << "cut at " << n << ": " << message;
    }
}

TEST(GgufMalformed, TruncatedStringNamesItsKeyAndOffset) {
    Bytes f;
    f.header(0, 1).str("general.name").u32(8).u64(100).zeros(5);  // 100 bytes announced, 5 there
    const std::string message = parse_error(f.b);
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    EXPECT_NE(message.find("'general.name'"), std::string::npos) << message;
    EXPECT_NE(message.find("at byte 48"), std::string::npos) << message;
}

TEST(GgufMalformed, BadMagicAndVersions) {
    Bytes magic;
    magic.header(0, 0).b[3] = 'X';
    EXPECT_ERROR_HAS(magic.b, "not a GGUF file: the magic number at byte 0 is 'GGUX' instead of 'GGUF'");
    EXPECT_ERROR_HAS(std::vector<uint8_t>({0x7F, 'E', 'L', 'F', 2, 1, 1, 0}), "the magic number at byte 0 is '.ELF'");
    EXPECT_ERROR_HAS(Bytes().header(0, 0, 1).b, "GGUF version 1 is not supported");
    EXPECT_ERROR_HAS(Bytes().header(0, 0, 4).b, "unsupported GGUF version 4 at byte 4");
    EXPECT_ERROR_HAS(Bytes().header(0, 0, 0x03000000).b, "big-endian");
    EXPECT_ERROR_HAS(std::vector<uint8_t>({'G', 'G'}), "too short to be a GGUF file (2 bytes)");
}

TEST(GgufMalformed, AbsurdCounts) {
    EXPECT_ERROR_HAS(Bytes().header(0, uint64_t{1} << 60).zeros(64).b, "metadata count 1152921504606846976");
    EXPECT_ERROR_HAS(Bytes().header(uint64_t{1} << 60, 0).zeros(64).b, "tensor count 1152921504606846976");
    // A key whose length is 2^63.
    EXPECT_ERROR_HAS(Bytes().header(0, 1).u64(uint64_t{1} << 63).zeros(64).b, "has length 9223372036854775808");
    // A string value whose length is 2^63.
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("k").u32(8).u64(uint64_t{1} << 63).zeros(64).b,
                     "the value of metadata key 'k' at byte 37 has length 9223372036854775808");
    // An array of 2^62 uint32 items, and of 2^62 strings.
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("k").u32(9).u32(4).u64(uint64_t{1} << 62).zeros(64).b,
                     "claims an array of 4611686018427387904 uint32 items");
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("k").u32(9).u32(8).u64(uint64_t{1} << 62).zeros(64).b,
                     "claims an array of 4611686018427387904 string items");
}

TEST(GgufMalformed, DeeplyNestedArrays) {
    Bytes f;
    f.header(0, 1).str("deep").u32(9);
    for (int i = 0; i < 100; ++i) f.u32(9).u64(1);
    f.u32(0).u64(0);
    EXPECT_ERROR_HAS(f.b, "metadata key 'deep' at byte 232 nests arrays deeper than 16 levels");
}

TEST(GgufMalformed, UnknownValueTypes) {
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("k").u32(13).zeros(8).b, "metadata key 'k' at byte 24 has unknown value type 13");
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("k").u32(9).u32(99).u64(1).zeros(8).b,
                     "metadata key 'k' at byte 37 is an array of unknown value type 99");
}

TEST(GgufMalformed, DuplicateKey) {
    EXPECT_ERROR_HAS(Bytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).b, "metadata key 'k' at byte 41 appears twice");
}

TEST(GgufMalformed, BadAlignment) {
    EXPECT_ERROR_HAS(Bytes().header(0, 1).kv_u32("general.alignment", 0).b, "'general.alignment' is 0; it must be a nonzero power of two");
    EXPECT_ERROR_HAS(Bytes().header(0, 1).kv_u32("general.alignment", 48).b, "is 48; it must be a nonzero power of two");
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("general.alignment").u32(5).u32(static_cast<uint32_t>(-64)).b, "'general.alignment' is negative");
    EXPECT_ERROR_HAS(Bytes().header(0, 1).str("general.alignment").u32(8).str("32").b,
                     "'general.alignment' has type string; it must be an unsigned integer");
}

// A file with one tensor whose description is given; the data section holds 256 bytes.
std::vector<uint8_t> one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, uint32_t n_dims_override = 0) {
    Bytes f;
    f.header(1, 0).tensor_info("blk.0.attn_q.weight", dims, type, offset);
    if (n_dims_override) std::memcpy(f.b.data() + 24 + 8 + 19, &n_dims_override, 4);
    return f.pad_to(32).zeros(256).b;
}

TEST(GgufMalformed, BadTensorDescriptions) {
    EXPECT_ERROR_HAS(one_tensor({4}, 0, 0, 100), "tensor 'blk.0.attn_q.weight' at byte 24 has 100 dimensions");
    Bytes no_dims;
    no_dims.header(1, 0).str("t").u32(0).u32(0).u64(0).pad_to(32).zeros(32);
    EXPECT_ERROR_HAS(no_dims.b, "tensor 't' at byte 24 has 0 dimensions");
    EXPECT_ERROR_HAS(one_tensor({4, 0}, 0, 0), "has invalid dimension 1 of size 0");
    EXPECT_ERROR_HAS(one_tensor({uint64_t{1} << 63}, 0, 0), "has invalid dimension 0 of size 9223372036854775808");
    EXPECT_ERROR_HAS(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0), "element count overflows");
    EXPECT_ERROR_HAS(one_tensor({uint64_t{1} << 62}, 0, 0), "data size of tensor 'blk.0.attn_q.weight' overflows");
    EXPECT_ERROR_HAS(one_tensor({4}, 99, 0), "tensor 'blk.0.attn_q.weight' has unknown or unsupported tensor type 99");
    EXPECT_ERROR_HAS(one_tensor({256}, 39, 0), "unsupported tensor type 39 (MXFP4)");
    EXPECT_ERROR_HAS(one_tensor({33}, 2, 0), "has a row of 33 elements, which is not a multiple of the Q4_0 block size 32");
}

TEST(GgufMalformed, BadTensorOffsets) {
    EXPECT_ERROR_HAS(one_tensor({4}, 0, 4), "data offset 4, which is not a multiple of the alignment 32");
    EXPECT_ERROR_HAS(one_tensor({64}, 0, 224),
                     "tensor 'blk.0.attn_q.weight' data (offset 320, 256 bytes) extends past the end of the file (size 352)");
    EXPECT_ERROR_HAS(one_tensor({4}, 0, uint64_t{1} << 40), "extends past the end of the file (size 352)");
    EXPECT_ERROR_HAS(one_tensor({4}, 0, ~uint64_t{31}), "data offset of tensor 'blk.0.attn_q.weight' overflows");
}

TEST(GgufMalformed, OverlappingAndDuplicateTensors) {
    Bytes overlap;
    overlap.header(2, 0).tensor_info("a", {16}, 0, 32).tensor_info("b", {16}, 0, 0).pad_to(32).zeros(128);
    EXPECT_ERROR_HAS(overlap.b, "tensor 'a' data (offset 128) overlaps tensor 'b' (offset 96, 64 bytes)");
    Bytes twice;
    twice.header(2, 0).tensor_info("a", {8}, 0, 0).tensor_info("a", {8}, 0, 32).pad_to(32).zeros(64);
    EXPECT_ERROR_HAS(twice.b, "tensor 'a' at byte 57 appears twice");
}

TEST(GgufMalformed, MetadataAccessorsNameTheKey) {
    const GgufFile file = GgufFile::parse(Bytes().header(0, 1).str("name").u32(8).str("x").b, "m.gguf");
    EXPECT_EQ(file.get_int("absent", 7), 7);
    EXPECT_EQ(file.get_string("name", "fallback"), "x");
    try {
        file.get_int("name", 0);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "m.gguf: metadata key 'name': expected an integer but the value is of type string");
    }
    try {
        file.get("absent");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "m.gguf: metadata key 'absent' is missing");
    }
}

TEST(GgufMalformed, OpenReportsFileSystemProblems) {
    ScratchDir dir;
    const auto expect_open_error = [](const std::filesystem::path& path, const std::string& needle) {
        try {
            GgufFile::open(path.string());
            ADD_FAILURE() << "no error for " << path;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_open_error(dir / "missing.gguf", "cannot open: No such file or directory");
    expect_open_error(dir.path(), "not a regular file");
    std::ofstream(dir / "empty.gguf").close();
    expect_open_error(dir / "empty.gguf", "file is empty (0 bytes)");
}

}  // namespace
}  // namespace natter::test
