// core/paths.h: the XDG base directory rules, checked against the specification's own
// examples (an absolute XDG_* wins; unset or empty falls back below HOME).
#include "core/paths.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "core/error.h"

namespace natter {
namespace {

namespace fs = std::filesystem;

// Sets (or with nullopt unsets) one variable for the life of the object.
class ScopedEnv {
public:
    ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            ::setenv(name, value->c_str(), 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(Paths, XdgVariablesWin) {
    ScopedEnv cache("XDG_CACHE_HOME", "/x/cache"), config("XDG_CONFIG_HOME", "/x/config"),
        data("XDG_DATA_HOME", "/x/data"), home("HOME", "/home/u");
    EXPECT_EQ(paths::model_cache_dir(), fs::path("/x/cache/natter/models"));
    EXPECT_EQ(paths::default_model(), fs::path("/x/cache/natter/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    EXPECT_EQ(paths::user_templates_dir(), fs::path("/x/config/natter/templates"));
    EXPECT_EQ(paths::sessions_dir(), fs::path("/x/data/natter/sessions"));
    EXPECT_EQ(paths::history_file(), fs::path("/x/data/natter/history"));
}

TEST(Paths, UnsetOrEmptyXdgFallsBackBelowHome) {
    ScopedEnv cache("XDG_CACHE_HOME", std::nullopt), config("XDG_CONFIG_HOME", ""),
        data("XDG_DATA_HOME", std::nullopt), home("HOME", "/home/u");
    EXPECT_EQ(paths::model_cache_dir(), fs::path("/home/u/.cache/natter/models"));
    EXPECT_EQ(paths::user_templates_dir(), fs::path("/home/u/.config/natter/templates"));
    EXPECT_EQ(paths::sessions_dir(), fs::path("/home/u/.local/share/natter/sessions"));
    EXPECT_EQ(paths::history_file(), fs::path("/home/u/.local/share/natter/history"));
}

TEST(Paths, WithoutHomeThePasswordEntryIsUsed) {
    ScopedEnv data("XDG_DATA_HOME", std::nullopt), home("HOME", std::nullopt);
    // root's (or this user's) entry: never empty, never relative.
    const fs::path dir = paths::home_dir();
    EXPECT_TRUE(dir.is_absolute()) << dir;
    EXPECT_EQ(paths::sessions_dir(), dir / ".local/share/natter/sessions");
}

TEST(Paths, TildeExpandsToHome) {
    ScopedEnv home("HOME", "/home/u");
    EXPECT_EQ(paths::expand_home("~/chats/a.json"), fs::path("/home/u/chats/a.json"));
    EXPECT_EQ(paths::expand_home("~"), fs::path("/home/u"));
    EXPECT_EQ(paths::expand_home("a/~/b"), fs::path("a/~/b"));
    EXPECT_EQ(paths::resolve_model_path("~/m.gguf"), "/home/u/m.gguf");
}

TEST(Paths, MissingDefaultModelSaysHowToGetIt) {
    ScopedEnv cache("XDG_CACHE_HOME", "/nonexistent-natter-test");
    try {
        paths::resolve_model_path("");
        FAIL() << "no error for a missing default model";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("scripts/setup"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("/nonexistent-natter-test/natter/models/"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace natter
