#pragma once
// SHA-256 (FIPS 180-4), as Python's hashlib and sha256sum compute it: `natter pull` checks a
// downloaded model with it, and the tests name files and tensors by it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace natter {

namespace detail {
// The compression function over n 64-byte blocks, in two forms: the portable one, and the
// SHA extensions' (nullptr where the CPU has none). Sha256 uses the second where there is one;
// the tests check both against the same digests.
using Sha256Blocks = void (*)(uint32_t* state, const uint8_t* p, size_t n);
void sha256_blocks_portable(uint32_t* state, const uint8_t* p, size_t n);
Sha256Blocks sha256_blocks_sha_ni();
}  // namespace detail

class Sha256 {
public:
    Sha256();
    // With the given form of the compression function (the tests check each form).
    explicit Sha256(detail::Sha256Blocks blocks);
    void update(std::span<const uint8_t> data);
    void update(const void* data, size_t n) { update({static_cast<const uint8_t*>(data), n}); }
    // The digest as 64 lowercase hex digits; the object is finished afterwards.
    std::string hex();

private:
    void blocks(const uint8_t* p, size_t n) { blocks_(h_.data(), p, n); }  // n whole 64-byte blocks
    detail::Sha256Blocks blocks_;
    std::array<uint32_t, 8> h_;
    std::array<uint8_t, 64> buf_{};
    size_t buffered_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(std::span<const uint8_t> data);
// The sha256 of a whole file; natter::Error if it cannot be read.
std::string file_sha256(const std::filesystem::path& path);

}  // namespace natter
