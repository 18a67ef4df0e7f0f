// Slash command parsing: every command, prefixes, and the one-line errors.
#include <gtest/gtest.h>

#include "session/chat_commands.h"

using namespace natter;
using Kind = ParsedInput::Kind;

TEST(Commands, PlainTextIsAMessage) {
    const auto p = parse_input("hello /there");
    EXPECT_EQ(p.kind, Kind::Message);
    EXPECT_EQ(p.text, "hello /there");
    const auto slash = parse_input("//etc/passwd is a path");
    EXPECT_EQ(slash.kind, Kind::Message);
    EXPECT_EQ(slash.text, "/etc/passwd is a path");
}

TEST(Commands, EveryCommandParses) {
    for (const CommandInfo& c : command_table()) {
        const std::string line = "/" + c.name + (c.shape == ArgShape::Required ? " x.json" : "");
        const auto p = parse_input(line);
        EXPECT_EQ(p.kind, Kind::Command) << line << ": " << p.text;
        EXPECT_EQ(p.command, c.kind) << line;
    }
}

TEST(Commands, ArgumentsAreTrimmedAndUnquoted) {
    auto p = parse_input("/save   my chat.md  ");
    EXPECT_EQ(p.command, CommandKind::Save);
    EXPECT_EQ(p.arg, "my chat.md");
    p = parse_input("/load \"/tmp/a b.json\"");
    EXPECT_EQ(p.command, CommandKind::Load);
    EXPECT_EQ(p.arg, "/tmp/a b.json");
    p = parse_input("/set temp 0.7");
    EXPECT_EQ(p.command, CommandKind::Set);
    EXPECT_EQ(p.words, (std::vector<std::string>{"temp", "0.7"}));
    p = parse_input("/system You are a pirate.  Speak like one.");
    EXPECT_EQ(p.command, CommandKind::System);
    EXPECT_EQ(p.arg, "You are a pirate.  Speak like one.");
    p = parse_input("/template");
    EXPECT_EQ(p.command, CommandKind::Template);
    EXPECT_EQ(p.arg, "");
}

TEST(Commands, UniquePrefixesWork) {
    EXPECT_EQ(parse_input("/q").command, CommandKind::Quit);
    EXPECT_EQ(parse_input("/tem llama-3").command, CommandKind::Template);
    EXPECT_EQ(parse_input("/tem llama-3").arg, "llama-3");
    const auto p = parse_input("/s x");  // save, set, system
    EXPECT_EQ(p.kind, Kind::Error);
    EXPECT_EQ(p.text, "/s is ambiguous: /save /set /system /stats");
}

namespace {
void expect_error(const char* line, const std::string& message) {
    const auto p = parse_input(line);
    EXPECT_EQ(p.kind, Kind::Error) << line;
    EXPECT_EQ(p.text, message) << line;
    EXPECT_EQ(p.text.find('\n'), std::string::npos) << line;
}
}  // namespace

TEST(Commands, MistakesGetOneLineErrors) {
    expect_error("/frobnicate now", "unknown command /frobnicate (/help lists the commands; // sends a line starting with /)");
    expect_error("/load", "/load needs file (e.g. /load chat.json)");
    expect_error("/undo please", "/undo takes no arguments");
    expect_error("/set temp 0.7 now", "/set takes [param [value]], e.g. /set temp 0.7");
    expect_error("/", "unknown command / (/help lists the commands; // sends a line starting with /)");
}
