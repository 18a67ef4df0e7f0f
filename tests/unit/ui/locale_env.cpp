// wcwidth() answers for UTF-8 only under a UTF-8 LC_CTYPE, as in the real program.
#include <gtest/gtest.h>

#include "ui/text.h"

namespace {
class Utf8Locale : public ::testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(natter::ui::use_utf8_ctype()) << "no UTF-8 locale on this machine"; }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new Utf8Locale);
}  // namespace
