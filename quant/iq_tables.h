#pragma once
// Internal to quant/: the constant tables of the IQ formats, as llama.cpp's ggml-common.h has
// them (quant/iq_tables.cpp; tests/unit/quant/iq_tables_test.cpp checks every number).
#include <cstdint>

namespace natter::detail {

// Sign patterns of 8 quants from 7 stored bits: bit j set = quant j negative; the eighth
// bit makes the count of negatives even.
extern const uint8_t kIqSigns[128];
// Grids of 8 (IQ2, IQ1) or 4 (IQ3) quant magnitudes, one byte each, packed little-endian.
extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];  // bytes -1, 0, 1
// IQ4_NL / IQ4_XS: the 16 values a 4-bit index stands for.
extern const int8_t kIq4nlValues[16];

}  // namespace natter::detail
