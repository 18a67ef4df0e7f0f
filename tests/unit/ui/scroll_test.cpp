// Scroll position: following, reading older text while a reply streams, paging.
#include <gtest/gtest.h>

#include "ui/scroll.h"

using natter::ui::ScrollView;

TEST(Scroll, FollowsTheNewestTextByDefault) {
    ScrollView v;
    EXPECT_EQ(v.first_row(100, 20), 80);
    v.content_changed(100, 130, 20);
    EXPECT_TRUE(v.following());
    EXPECT_EQ(v.first_row(130, 20), 110);
    EXPECT_EQ(v.first_row(5, 20), 0);  // shorter than the window: from the top
}

TEST(Scroll, NewTokensDoNotYankAReaderScrolledUp) {
    ScrollView v;
    v.page_up(100, 20);  // a page is 18 rows
    EXPECT_EQ(v.first_row(100, 20), 62);
    v.content_changed(100, 103, 20);
    EXPECT_EQ(v.first_row(103, 20), 62);  // the same rows stay in view
    EXPECT_EQ(v.rows_below(), 21);
    v.to_bottom();
    EXPECT_EQ(v.first_row(103, 20), 83);
}

TEST(Scroll, ClampsAtTheTopAndTheBottom) {
    ScrollView v;
    v.scroll_up(1000, 50, 20);
    EXPECT_EQ(v.first_row(50, 20), 0);
    v.page_down(50, 20);
    EXPECT_EQ(v.first_row(50, 20), 18);
    v.scroll_down(1000, 50, 20);
    EXPECT_TRUE(v.following());
    v.to_top(50, 20);
    EXPECT_EQ(v.first_row(50, 20), 0);
    v.to_top(10, 20);  // nothing to scroll
    EXPECT_TRUE(v.following());
}

TEST(Scroll, ShowRowAtTopAfterARelayout) {
    ScrollView v;
    v.scroll_up(10, 100, 20);
    v.show_row_at_top(40, 150, 20);
    EXPECT_EQ(v.first_row(150, 20), 40);
    v.show_row_at_top(145, 150, 20);  // past the last page: the last page
    EXPECT_EQ(v.first_row(150, 20), 130);
}
