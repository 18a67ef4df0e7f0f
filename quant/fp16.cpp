// IEEE half and bfloat16 conversions, done on the bits so that the result does not depend
// on the compiler, the CPU or the floating-point environment.
#include <bit>
#include <cstdint>

#include "quant/quant.h"

namespace natter {
namespace {

constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32AbsMask = 0x7fffffffu;
constexpr uint32_t kF32Inf = 0x7f800000u;
constexpr uint32_t kF32QuietBit = 0x00400000u;

constexpr uint16_t kF16Inf = 0x7c00;
// The NaN that llama.cpp's reference conversion writes for every NaN input.
constexpr uint16_t kF16QuietNaN = 0x7e00;
// |f| at or above this (65520, halfway between 65504 and the next power of two) rounds to
// infinity: the tie goes to the even neighbour, which is infinity.
constexpr uint32_t kF16OverflowBits = 0x477ff000u;
// Smallest normal half, 2^-14.
constexpr uint32_t kF16MinNormalBits = 0x38800000u;
// Below 2^-25 (half the smallest subnormal) everything rounds to zero.
constexpr uint32_t kF16UnderflowBits = 0x33000000u;
// Exponent bias difference (127 - 15), in position for a half's exponent field.
constexpr uint32_t kRebias = 112u << 10;

// Shift `value` right by `shift` bits, rounding to nearest with ties to even.
uint32_t shift_right_round_even(uint32_t value, int shift) {
    const uint32_t kept = value >> shift;
    const uint32_t rest = value & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    return kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) {
        // Infinity keeps its bits; a NaN keeps its payload and comes out quiet.
        const uint32_t quiet = mantissa != 0 ? kF32QuietBit : 0;
        return std::bit_cast<float>(sign | kF32Inf | quiet | (mantissa << 13));
    }
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
    }
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t fp32_to_fp16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const auto sign = static_cast<uint16_t>((bits & kF32SignMask) >> 16);
    const uint32_t abs = bits & kF32AbsMask;
    if (abs > kF32Inf) return sign | kF16QuietNaN;
    if (abs >= kF16OverflowBits) return sign | kF16Inf;
    if (abs < kF16UnderflowBits) return sign;
    if (abs < kF16MinNormalBits) {
        // Subnormal result: the value in units of 2^-24 is the full mantissa shifted right.
        const int exponent = static_cast<int>(abs >> 23);
        const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
        return sign | static_cast<uint16_t>(shift_right_round_even(mantissa, 126 - exponent));
    }
    // Normal result: drop 13 mantissa bits; a carry out of the mantissa correctly bumps the
    // exponent (the overflow case was handled above).
    return sign | static_cast<uint16_t>(shift_right_round_even(abs, 13) - kRebias);
}

float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    if ((bits & kF32AbsMask) > kF32Inf) {
        // Keep sign and the top of the payload, and force the NaN quiet so that truncating
        // the payload can never turn it into infinity.
        return static_cast<uint16_t>((bits >> 16) | 0x40u);
    }
    return static_cast<uint16_t>(shift_right_round_even(bits, 16));
}

}  // namespace natter
