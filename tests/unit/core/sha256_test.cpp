// SHA-256 against digests from another implementation (Python's hashlib / sha256sum).
#include "core/sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace natter {
namespace {

// hashlib.sha256 of the 64,017 bytes of the generator in BothForms... below:
//   x = 12345; for each byte: x = (x * 1664525 + 1013904223) mod 2^32, byte = x >> 24
constexpr const char* kRandomDigest = "1a25f6fa28ffbe9804f1b3d02341711949bb4496d2a859c5cf333b9261e64b86";

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

// Each form of the compression function (the portable one, and the SHA extensions' where the
// CPU has them) through Sha256's own padding, against the same digests.
std::string digest_with(detail::Sha256Blocks blocks, const std::string& message) {
    Sha256 s(blocks);
    s.update(message.data(), message.size());
    return s.hex();
}

TEST(Sha256, BothFormsOfTheCompressionFunctionGiveTheKnownDigests) {
    std::vector<std::pair<const char*, detail::Sha256Blocks>> forms = {{"portable", detail::sha256_blocks_portable}};
    if (detail::sha256_blocks_sha_ni()) forms.emplace_back("SHA extensions", detail::sha256_blocks_sha_ni());
    else std::cout << "[ skipped] the SHA-extensions form: this CPU has no SHA extensions\n";
    std::string random(64 * 1000 + 17, '\0');
    uint32_t x = 12345;
    for (char& c : random) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
    for (const auto& [name, blocks] : forms) {
        EXPECT_EQ(digest_with(blocks, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") << name;
        EXPECT_EQ(digest_with(blocks, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") << name;
        EXPECT_EQ(digest_with(blocks, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            << name;
        EXPECT_EQ(digest_with(blocks, std::string(1000000, 'a')),
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
            << name;
        EXPECT_EQ(digest_with(blocks, random), kRandomDigest) << name;
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
