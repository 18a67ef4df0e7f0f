#include "quant/packed.h"

#include <cstring>

#include "quant/blocks.h"
#include "quant/unpack.h"

namespace natter {

bool has_packed_layout(GgmlType type) { return type == GgmlType::Q4_0 || type == GgmlType::Q4_K; }

size_t packed_row_bytes(GgmlType type, int64_t cols) {
    switch (type) {
        case GgmlType::Q4_0: return static_cast<size_t>(cols / QK4_0) * sizeof(PackedQ4_0) / kPackedRows;
        case GgmlType::Q4_K: return static_cast<size_t>(cols / QK_K) * sizeof(PackedQ4_K) / kPackedRows;
        default: return 0;
    }
}

namespace {

template <typename Block>
const Block& block_of(const void* w, size_t ws, int64_t row, int64_t b) {
    return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + static_cast<size_t>(row) * ws)[b];
}

void pack_q4_0(int64_t nb, const void* w, size_t ws, PackedQ4_0* dst) {
    for (int64_t b = 0; b < nb; ++b) {
        PackedQ4_0& p = dst[b];
        for (int r = 0; r < 16; ++r) {
            const BlockQ4_0& x = block_of<BlockQ4_0>(w, ws, r, b);
            p.d[r] = x.d;
            for (int k = 0; k < 4; ++k) std::memcpy(&p.q[k][4 * r], x.qs + 4 * k, 4);
        }
    }
}

void pack_q4_k(int64_t nb, const void* w, size_t ws, PackedQ4_K* dst) {
    detail::KGroups groups;
    for (int64_t b = 0; b < nb; ++b) {
        PackedQ4_K& p = dst[b];
        for (int r = 0; r < 16; ++r) {
            const BlockQ4_K& x = block_of<BlockQ4_K>(w, ws, r, b);
            p.d[r] = x.d;
            p.dmin[r] = x.dmin;
            detail::k4_groups(x.scales, groups);
            for (int c = 0; c < 8; ++c) {
                p.scales[c][r] = static_cast<uint8_t>(groups.scales[c]);
                p.mins[c / 2][2 * r + c % 2] = static_cast<uint8_t>(groups.mins[c]);
            }
            for (int pair = 0; pair < 4; ++pair) {
                for (int k = 0; k < 8; ++k) std::memcpy(&p.q[pair][k][4 * r], x.qs + 32 * pair + 4 * k, 4);
            }
        }
    }
}

}  // namespace

void pack_rows(GgmlType type, int64_t cols, const void* w, size_t ws, int64_t n_rows, void* dst) {
    const size_t group_bytes = kPackedRows * packed_row_bytes(type, cols);
    for (int64_t g = 0; g < n_rows / kPackedRows; ++g) {
        const void* rows = static_cast<const uint8_t*>(w) + static_cast<size_t>(g * kPackedRows) * ws;
        void* out = static_cast<uint8_t*>(dst) + static_cast<size_t>(g) * group_bytes;
        if (type == GgmlType::Q4_0) pack_q4_0(cols / QK4_0, rows, ws, static_cast<PackedQ4_0*>(out));
        if (type == GgmlType::Q4_K) pack_q4_k(cols / QK_K, rows, ws, static_cast<PackedQ4_K*>(out));
    }
}

}  // namespace natter
