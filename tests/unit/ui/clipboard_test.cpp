// OSC 52 clipboard sequence (base64 vectors from RFC 4648, section 10).
#include <gtest/gtest.h>

#include "ui/clipboard.h"

using namespace natter::ui;

TEST(Clipboard, Base64MatchesTheRfcVectors) {
    EXPECT_EQ(base64(""), "");
    EXPECT_EQ(base64("f"), "Zg==");
    EXPECT_EQ(base64("fo"), "Zm8=");
    EXPECT_EQ(base64("foo"), "Zm9v");
    EXPECT_EQ(base64("foob"), "Zm9vYg==");
    EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64("\xff\xfe"), "//4=");
}

TEST(Clipboard, Osc52WrapsTheText) {
    EXPECT_EQ(osc52_sequence("hi"), "\033]52;c;aGk=\a");
}
