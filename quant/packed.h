#pragma once
// natter's load-time layout of Q4_0 and Q4_K weight matrices for the matmul kernels (the
// role of llama.cpp's repacking at load: it interleaves these rows 8 at a time). In the GGUF
// file each row is its own run of blocks, so a kernel that takes 16 rows as the lanes of a
// vector must transpose them in registers block by block; the packed layout stores each
// group of 16 rows block by block already transposed (32-bit lane r = row r), so the
// generation kernels read it with plain loads, one sequential stream per thread.
//
// Group g (rows 16g..16g+15) starts at byte g * 16 * packed_row_bytes(type, cols) and holds
// its blocks in order. Packing moves bytes and decodes Q4_K's 6-bit scales; no value
// changes, so kernels on the packed rows give the same bits as on the file's rows.
#include <cstddef>
#include <cstdint>

#include "quant/types.h"

namespace natter {

inline constexpr int kPackedRows = 16;
// How far ahead of the block being read the packed kernels prefetch, in bytes (1B Q4_0 tg on
// an Intel Xeon, 2 threads: no prefetch 23-24 t/s, 1 KiB 29-30, 2 KiB 30-32, 4 KiB 32-33,
// 8 KiB 31-32; the hardware prefetcher alone does not keep up).
inline constexpr int kPackedPrefetchBytes = 4096;

// One Q4_0 block (32 elements) of 16 rows: the 16 scales (IEEE halves), then for k < 4 the
// bytes 4k..4k+3 of each row's qs side by side (elements 4k..4k+3 in the low nibbles, 16+4k..
// in the high ones). 288 bytes, as the 16 blocks in the file.
struct PackedQ4_0 {
    uint16_t d[16];
    uint8_t q[4][64];
};
static_assert(sizeof(PackedQ4_0) == 16 * 18);

// One Q4_K super-block (256 elements) of 16 rows: d and dmin (halves); the 6-bit scale of
// chunk c (32 elements) of each row as a byte; each chunk pair p's two mins of each row as
// byte pairs (min(2p), min(2p+1)); then for chunk pair p and k < 8 the bytes 32p+4k..+3 of
// each row's qs side by side (chunk 2p's elements 4k..4k+3 in the low nibbles, chunk 2p+1's
// in the high ones). 2368 bytes, 64 more than the 16 blocks in the file.
struct PackedQ4_K {
    uint16_t d[16];
    uint16_t dmin[16];
    uint8_t scales[8][16];
    uint8_t mins[4][32];
    uint8_t q[4][8][64];
};
static_assert(sizeof(PackedQ4_K) == 2368);

// Whether type has a packed layout (Q4_0, Q4_K).
bool has_packed_layout(GgmlType type);
// Bytes per row in the packed layout (a group of 16 rows takes 16 times this).
size_t packed_row_bytes(GgmlType type, int64_t cols);
// Packs n_rows rows (a multiple of 16) of cols elements, row r at w + r * ws, into dst.
void pack_rows(GgmlType type, int64_t cols, const void* w, size_t ws, int64_t n_rows, void* dst);

}  // namespace natter
