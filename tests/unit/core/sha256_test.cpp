// SHA-256 against digests from another implementation (Python's hashlib / sha256sum).
#include "core/sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace natter {
namespace {

std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(Sha256, KnownDigests) {
    // hashlib.sha256(b"").hexdigest(), (b"abc"), and the FIPS 180-4 two-block message.
    EXPECT_EQ(sha256_hex(bytes("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex(bytes("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // 1,000,000 x 'a' (FIPS 180-4 test vector).
    EXPECT_EQ(sha256_hex(bytes(std::string(1000000, 'a'))),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesOfAnySizeGiveTheWholeDigest) {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7 + 3);
    const std::string whole = sha256_hex(bytes(text));
    for (size_t piece : {1, 3, 55, 56, 63, 64, 65, 127, 1000}) {
        Sha256 s;
        for (size_t at = 0; at < text.size(); at += piece) s.update(text.data() + at, std::min(piece, text.size() - at));
        EXPECT_EQ(s.hex(), whole) << "pieces of " << piece;
    }
}

TEST(Sha256, OfAFile) {
    const auto path = std::filesystem::temp_directory_path() / ("natter-sha-" + std::to_string(::getpid()));
    std::ofstream(path, std::ios::binary) << "abc";
    EXPECT_EQ(file_sha256(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::filesystem::remove(path);
    EXPECT_THROW(file_sha256(path), Error);
}

}  // namespace
}  // namespace natter
