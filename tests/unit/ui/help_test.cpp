// The help screen and the man page are printed from the tables; the man page in the
// source tree must contain exactly what the tables say.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "session/chat_commands.h"
#include "ui/help.h"
#include "ui/keys.h"

using namespace natter;
using namespace natter::ui;

namespace {
const std::string kBegin = ".\\\" BEGIN GENERATED KEYS AND COMMANDS (from ui/keys.cpp and session/chat_commands.cpp)\n";
const std::string kEnd = ".\\\" END GENERATED KEYS AND COMMANDS\n";
const std::string kManPage = std::string(NATTER_SOURCE_DIR) + "/man/natter.1";
}  // namespace

TEST(Help, ListsEveryKeyAndCommand) {
    const std::string help = help_text();
    for (const KeyBinding& b : key_bindings()) {
        EXPECT_NE(help.find(b.keys), std::string::npos) << b.keys;
        EXPECT_NE(help.find(b.help), std::string::npos) << b.help;
    }
    for (const CommandInfo& c : command_table()) EXPECT_NE(help.find("/" + c.name), std::string::npos) << c.name;
}

TEST(Help, ManSectionEscapesRoff) {
    const std::string man = man_keys_section();
    EXPECT_NE(man.find(".SH KEYS\n"), std::string::npos);
    EXPECT_NE(man.find(".SH COMMANDS\n"), std::string::npos);
    EXPECT_NE(man.find(".B Ctrl\\-C\n"), std::string::npos);
    EXPECT_NE(man.find("ending in \\e continues"), std::string::npos);  // a backslash printed as \e
    EXPECT_NE(man.find(".BI \"/save \" \"[file]\"\n"), std::string::npos);
}

// Set NATTER_UPDATE_MAN=1 to rewrite the generated part of man/natter.1 after changing a table.
TEST(Help, ManPageMatchesTheTables) {
    std::ifstream in(kManPage);
    ASSERT_TRUE(in) << kManPage;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string page = ss.str();
    const std::size_t begin = page.find(kBegin);
    const std::size_t end = page.find(kEnd);
    ASSERT_NE(begin, std::string::npos) << "marker missing in " << kManPage;
    ASSERT_NE(end, std::string::npos) << "marker missing in " << kManPage;
    const std::string current = page.substr(begin + kBegin.size(), end - begin - kBegin.size());
    const std::string wanted = man_keys_section();
    if (current != wanted && std::getenv("NATTER_UPDATE_MAN") != nullptr) {
        page.replace(begin + kBegin.size(), current.size(), wanted);
        std::ofstream(kManPage) << page;
        return;
    }
    EXPECT_EQ(current, wanted) << "man/natter.1 is out of date: run NATTER_UPDATE_MAN=1 test_ui --gtest_filter=Help.*";
}
