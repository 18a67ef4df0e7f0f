// The input history survives a restart, multi-line entries included.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <readline/history.h>
#include <unistd.h>

#include "ui/history.h"

using namespace natter::ui;
namespace fs = std::filesystem;

TEST(History, MultiLineEntriesRoundTrip) {
    const fs::path dir = fs::temp_directory_path() / ("natter-history-" + std::to_string(::getpid()));
    const fs::path file = dir / "nested" / "history";
    load_history(file);  // missing file: empty history
    EXPECT_EQ(history_length, 0);
    add_to_history("first");
    add_to_history("line one\nline two\nline three");
    add_to_history("last");
    save_history(file);
    ASSERT_TRUE(fs::exists(file));

    clear_history();
    load_history(file);
    ASSERT_EQ(history_length, 3);
    EXPECT_EQ(where_history(), 3);  // browsing starts after the newest entry, so Up finds "last"
    EXPECT_STREQ(previous_history()->line, "last");
    EXPECT_STREQ(history_get(history_base + 0)->line, "first");
    EXPECT_STREQ(history_get(history_base + 1)->line, "line one\nline two\nline three");
    EXPECT_STREQ(history_get(history_base + 2)->line, "last");
    fs::remove_all(dir);
}

TEST(History, KeepsOnlyTheNewestEntries) {
    const fs::path dir = fs::temp_directory_path() / ("natter-history-keep-" + std::to_string(::getpid()));
    const fs::path file = dir / "history";
    load_history(file);
    for (int i = 0; i < 10; ++i) add_to_history("entry " + std::to_string(i));
    save_history(file, 4);
    unstifle_history();
    load_history(file);
    ASSERT_EQ(history_length, 4);
    EXPECT_STREQ(history_get(history_base)->line, "entry 6");
    fs::remove_all(dir);
}
