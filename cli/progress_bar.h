#pragma once
// The model tools' progress bar on stderr ("[3/272] |#####   |  41.2% ETA 0:07  blk.2.ffn_up"):
// redrawn in place on a terminal (at most ten times a second), one line a second otherwise
// (--progress into a log).
#include <chrono>
#include <cstdint>
#include <string_view>

namespace natter::cli {

class ProgressBar {
public:
    explicit ProgressBar(bool tty);
    // Item index of count (index == count: finished), done of total bytes, the item's name.
    void update(std::string_view item, int index, int count, uint64_t done, uint64_t total);

private:
    bool tty_;
    int width_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), drawn_{};
};

}  // namespace natter::cli
