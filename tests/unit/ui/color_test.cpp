// When the chat uses colours: --color and NO_COLOR (no-color.org: any non-empty value).
#include <gtest/gtest.h>

#include "ui/screen.h"

using namespace natter::ui;

TEST(Colors, NoColorAndTheOptionDecide) {
    EXPECT_TRUE(colors_wanted(ColorMode::Auto, nullptr));
    EXPECT_TRUE(colors_wanted(ColorMode::Auto, ""));  // set but empty: ignored
    EXPECT_FALSE(colors_wanted(ColorMode::Auto, "1"));
    EXPECT_FALSE(colors_wanted(ColorMode::Never, nullptr));
    EXPECT_TRUE(colors_wanted(ColorMode::Always, "1"));  // an explicit request wins
}
