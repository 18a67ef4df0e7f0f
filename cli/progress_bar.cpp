#include "cli/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace natter::cli {

namespace {

int terminal_width() {
    winsize ws{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
    return 80;
}

std::string clock_text(double seconds) {
    const int s = static_cast<int>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
    return buf;
}

}  // namespace

ProgressBar::ProgressBar(bool tty) : tty_(tty), width_(terminal_width()) {}

void ProgressBar::update(std::string_view item, int index, int count, uint64_t done, uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = index == count;
    if (!last && now - drawn_ < std::chrono::milliseconds(tty_ ? 100 : 1000)) return;
    drawn_ = now;
    const double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const std::string eta = last ? "done in " + clock_text(elapsed)
                            : fraction > 0.01 && elapsed > 0.5 ? "ETA " + clock_text(elapsed * (1 - fraction) / fraction)
                                                               : "ETA --:--";
    const int bar = std::clamp(width_ - 80, 10, 30);
    const int filled = static_cast<int>(fraction * bar + 0.5);
    std::string line = "[";
    line.append(std::to_string(std::min(index + 1, count))).append("/").append(std::to_string(count)).append("] |");
    for (int i = 0; i < bar; ++i) line += i < filled ? "#" : " ";
    char pct[16];
    std::snprintf(pct, sizeof pct, "| %5.1f%% ", 100.0 * fraction);
    line += pct + eta + "  ";
    const int room = std::max(0, width_ - 1 - static_cast<int>(line.size()));
    line += std::string(item).substr(0, static_cast<size_t>(room));
    if (tty_) std::fprintf(stderr, "\r%-*s%s", width_ - 1, line.c_str(), last ? "\n" : "");
    else std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
}

}  // namespace natter::cli
