// The binding table, live setting steps and template cycling.
#include <curses.h>
#include <gtest/gtest.h>

#include <set>

#include "ui/keys.h"

using namespace natter::ui;
using natter::ChatSettings;

TEST(Keys, TheTableDrivesTheHandler) {
    EXPECT_EQ(action_for_key(KEY_F(1)), Action::Help);
    EXPECT_EQ(action_for_key(3), Action::Interrupt);
    EXPECT_EQ(action_for_key(KEY_F(2)), Action::NextTemplate);
    EXPECT_EQ(action_for_key(KEY_F(4)), Action::TempUp);
    EXPECT_EQ(action_for_key(KEY_PPAGE), Action::PageUp);
    EXPECT_EQ(action_for_key('a'), std::nullopt);  // letters belong to readline
    EXPECT_EQ(action_for_key(KEY_LEFT), std::nullopt);
}

TEST(Keys, NoKeyIsBoundTwiceAndEveryActionIsDocumented) {
    std::set<int> seen;
    for (const KeyBinding& b : key_bindings()) {
        EXPECT_FALSE(b.keys.empty());
        EXPECT_FALSE(b.help.empty()) << b.keys;
        for (int code : b.codes) EXPECT_TRUE(seen.insert(code).second) << "bound twice: " << b.keys;
    }
    for (Action a : {Action::Help, Action::Interrupt, Action::PageUp, Action::PageDown, Action::Top, Action::Bottom,
                     Action::NextTemplate, Action::TempDown, Action::TempUp, Action::TopPDown, Action::TopPUp,
                     Action::TopKDown, Action::TopKUp, Action::RepeatDown, Action::RepeatUp}) {
        bool found = false;
        for (const KeyBinding& b : key_bindings()) found |= b.action == a && !b.codes.empty();
        EXPECT_TRUE(found) << "action " << static_cast<int>(a) << " has no key";
    }
}

TEST(LiveSettings, StepsLandOnTheGridAndStayInRange) {
    ChatSettings s;
    s.sampling.temperature = 0.8f;
    s.sampling.top_p = 0.95f;
    s.sampling.top_k = 40;
    s.sampling.repeat_penalty = 1.1f;
    EXPECT_FLOAT_EQ(adjust(s, Action::TempUp).sampling.temperature, 0.9f);
    EXPECT_FLOAT_EQ(adjust(s, Action::TempDown).sampling.temperature, 0.7f);
    EXPECT_FLOAT_EQ(adjust(s, Action::TopPUp).sampling.top_p, 1.0f);
    EXPECT_FLOAT_EQ(adjust(adjust(s, Action::TopPUp), Action::TopPUp).sampling.top_p, 1.0f);
    EXPECT_EQ(adjust(s, Action::TopKUp).sampling.top_k, 45);
    EXPECT_EQ(adjust(s, Action::TopKDown).sampling.top_k, 35);
    EXPECT_FLOAT_EQ(adjust(s, Action::RepeatUp).sampling.repeat_penalty, 1.15f);
    EXPECT_FLOAT_EQ(adjust(s, Action::RepeatDown).sampling.repeat_penalty, 1.05f);
    // Only the named setting moves.
    const ChatSettings t = adjust(s, Action::TempUp);
    EXPECT_FLOAT_EQ(t.sampling.top_p, 0.95f);
    EXPECT_EQ(t.sampling.top_k, 40);

    s.sampling.temperature = 0.75f;  // off the grid: the next step lands on it
    EXPECT_FLOAT_EQ(adjust(s, Action::TempUp).sampling.temperature, 0.8f);
    EXPECT_FLOAT_EQ(adjust(s, Action::TempDown).sampling.temperature, 0.7f);
    s.sampling.temperature = 0.0f;
    EXPECT_FLOAT_EQ(adjust(s, Action::TempDown).sampling.temperature, 0.0f);
    s.sampling.top_k = 0;
    EXPECT_EQ(adjust(s, Action::TopKDown).sampling.top_k, 0);
    s.sampling.repeat_penalty = 1.0f;
    EXPECT_FLOAT_EQ(adjust(s, Action::RepeatDown).sampling.repeat_penalty, 1.0f);
    // Ten steps up from 0.1 is 1.1 exactly, not 1.0999999.
    s.sampling.temperature = 0.1f;
    for (int i = 0; i < 10; ++i) s = adjust(s, Action::TempUp);
    EXPECT_FLOAT_EQ(s.sampling.temperature, 1.1f);
}

TEST(LiveSettings, TemplatesCycleBothWays) {
    const std::vector<std::string> names{"alpaca", "chatml", "llama-2"};
    EXPECT_EQ(cycle_template(names, "chatml", 1), "llama-2");
    EXPECT_EQ(cycle_template(names, "llama-2", 1), "alpaca");
    EXPECT_EQ(cycle_template(names, "alpaca", -1), "llama-2");
    EXPECT_EQ(cycle_template(names, "custom", 1), "alpaca");
    EXPECT_EQ(cycle_template({}, "chatml", 1), "chatml");
}
