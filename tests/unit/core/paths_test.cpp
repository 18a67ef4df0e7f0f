// core/paths.h: the XDG base directory rules, checked against the specification's own
// examples (an absolute XDG_* wins; unset or empty falls back below HOME).
#include "core/paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/model_catalog.h"

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
        EXPECT_NE(std::string(e.what()).find("natter pull default"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("/nonexistent-natter-test/natter/models/"), std::string::npos) << e.what();
    }
}

// A models folder with a few files, for -m NAME.
class ModelNames : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("natter-names-" + std::to_string(::getpid()));
        fs::remove_all(root_);
        fs::create_directories(root_ / "natter/models");
        for (const char* name : {"Qwen2.5-0.5B-Q4_K_M.gguf", "qwen2.5-1.5b-q8_0.gguf", "llama-3.2-1b.gguf", "notes.txt"}) {
            std::ofstream(root_ / "natter/models" / name) << "x";
        }
        cache_.emplace("XDG_CACHE_HOME", root_.string());
    }
    void TearDown() override {
        cache_.reset();
        fs::remove_all(root_);
    }
    std::string models() const { return (root_ / "natter/models").string(); }
    static std::string error_of(const std::string& name) {
        try {
            paths::resolve_model_path(name);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }
    fs::path root_;
    std::optional<ScopedEnv> cache_;
};

TEST_F(ModelNames, ExactNameWithOrWithoutGgufAndUniquePrefix) {
    EXPECT_EQ(paths::resolve_model_path("llama-3.2-1b.gguf"), models() + "/llama-3.2-1b.gguf");
    EXPECT_EQ(paths::resolve_model_path("llama-3.2-1b"), models() + "/llama-3.2-1b.gguf");
    EXPECT_EQ(paths::resolve_model_path("llama"), models() + "/llama-3.2-1b.gguf");
    // Case-insensitive, and only .gguf files count.
    EXPECT_EQ(paths::resolve_model_path("QWEN2.5-0"), models() + "/Qwen2.5-0.5B-Q4_K_M.gguf");
    EXPECT_NE(error_of("notes").find("no model in"), std::string::npos) << error_of("notes");
}

TEST_F(ModelNames, AnAmbiguousPrefixNamesTheCandidates) {
    const std::string e = error_of("qwen");
    EXPECT_NE(e.find("matches 2 models"), std::string::npos) << e;
    EXPECT_NE(e.find("Qwen2.5-0.5B-Q4_K_M.gguf, qwen2.5-1.5b-q8_0.gguf"), std::string::npos) << e;
}

TEST_F(ModelNames, AKnownModelNotYetFetchedSaysHowToPullIt) {
    const std::string e = error_of("gemma3-270m");
    EXPECT_NE(e.find("`natter pull gemma3-270m` fetches it (253 MB)"), std::string::npos) << e;
    std::ofstream(root_ / "natter/models/gemma-3-270m-q4_k_m.gguf") << "x";
    EXPECT_EQ(paths::resolve_model_path("Gemma-3-270M"), models() + "/gemma-3-270m-q4_k_m.gguf");
    EXPECT_NE(error_of("default").find("`natter pull smollm2-135m-instruct` fetches it (98 MB)"), std::string::npos)
        << error_of("default");
}

TEST_F(ModelNames, PathsAreTakenAsGiven) {
    EXPECT_EQ(paths::resolve_model_path("./llama"), "./llama");  // a '/': the user's path, even if missing
    EXPECT_EQ(paths::resolve_model_path(models()), models());     // a folder: Model::load says what is wrong
    const std::string e = error_of("nothing-like-this.gguf");
    EXPECT_NE(e.find("no model file 'nothing-like-this.gguf'"), std::string::npos) << e;
    EXPECT_NE(e.find("`natter models` lists them"), std::string::npos) << e;
}

}  // namespace
}  // namespace natter
