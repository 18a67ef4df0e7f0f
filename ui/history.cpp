// Readline history with multi-line entries, persisted.
#include "ui/history.h"

#include <cstdio>
#include <ctime>
// readline's headers need stdio first.
#include <readline/history.h>

namespace natter::ui {


void load_history(const std::filesystem::path& file) {
    clear_history();
    // A line without a timestamp before it continues the entry above it.
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    if (!file.empty()) read_history(file.c_str());
    using_history();  // Up and Ctrl-R start from the newest entry
}

void add_to_history(const std::string& entry) {
    add_history(entry.c_str());
    // Appended, not "#" + std::to_string(...): GCC 12 inlines that operator+ into a false
    // -Wrestrict (GCC bug 105329).
    std::string stamp(1, '#');
    stamp += std::to_string(static_cast<long long>(std::time(nullptr)));
    add_history_time(stamp.c_str());
    using_history();
}

void save_history(const std::filesystem::path& file, int keep) {
    if (file.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    history_write_timestamps = 1;
    const std::filesystem::path tmp = file.string() + ".tmp";
    stifle_history(keep);
    if (write_history(tmp.c_str()) == 0) std::filesystem::rename(tmp, file, ec);
}

}  // namespace natter::ui
