// natter chat / run --remote's flags: what they set, where the API key comes from (in the
// order the man page gives), and that --api-key's value leaves argv once parsed.
#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/remote_flags.h"
#include "core/error.h"

namespace natter {
namespace {

namespace fs = std::filesystem;

class RemoteFlagsTest : public ::testing::Test {
protected:
    void SetUp() override {
        unsetenv("NATTER_API_KEY");
        unsetenv("OPENAI_API_KEY");
        dir_ = fs::temp_directory_path() / ("natter-remote-flags-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        unsetenv("NATTER_API_KEY");
        unsetenv("OPENAI_API_KEY");
        fs::remove_all(dir_);
    }
    void parse(std::vector<std::string> args) {
        std::reverse(args.begin(), args.end());
        app_.parse(args);
    }
    std::string key_file(const std::string& text) {
        const fs::path p = dir_ / "key";
        std::ofstream(p) << text;
        return p.string();
    }

    fs::path dir_;
    CLI::App app_{"natter"};
    cli::ChatOptions chat_;
    cli::RunOptions run_;
    CLI::App* chat_cmd_ = cli::add_chat_options(app_, chat_);
    CLI::App* run_cmd_ = cli::add_run_options(app_, run_);
};

TEST_F(RemoteFlagsTest, ChatAndRunTakeTheFlags) {
    parse({"chat", "--remote", "http://gpu:8000/v1", "--remote-model", "llama-70b", "--remote-timeout", "5", "--api-key", "k1"});
    const RemoteOptions r = cli::session_options(chat_).remote;
    EXPECT_EQ(r.url, "http://gpu:8000/v1");
    EXPECT_EQ(r.model, "llama-70b");
    EXPECT_EQ(r.timeout_seconds, 5);
    EXPECT_EQ(r.api_key, "k1");
    parse({"run", "--remote", "https://h/v1", "-p", "x"});
    EXPECT_EQ(run_.remote.url, "https://h/v1");
    EXPECT_EQ(run_.remote.timeout_seconds, 120);
    EXPECT_THROW(parse({"chat", "--remote-timeout", "0"}), CLI::ValidationError);
}

TEST_F(RemoteFlagsTest, TheKeyComesFromTheFileThenTheFlagThenTheEnvironment) {
    cli::RemoteFlags f;
    EXPECT_EQ(cli::remote_options(f).api_key, "");
    setenv("OPENAI_API_KEY", "from-openai", 1);
    EXPECT_EQ(cli::remote_options(f).api_key, "from-openai");
    setenv("NATTER_API_KEY", "from-natter", 1);
    EXPECT_EQ(cli::remote_options(f).api_key, "from-natter");
    f.api_key = "from-flag";
    EXPECT_EQ(cli::remote_options(f).api_key, "from-flag");
    f.api_key.clear();
    f.api_key_file = key_file("from-file \r\nsecond line\n");
    EXPECT_EQ(cli::remote_options(f).api_key, "from-file");
    f.api_key_file = key_file("\nkey on the second line\n");
    EXPECT_THROW(cli::remote_options(f), Error);
    f.api_key_file = (dir_ / "missing").string();
    EXPECT_THROW(cli::remote_options(f), Error);
}

TEST_F(RemoteFlagsTest, TheKeyIsOverwrittenInArgv) {
    std::vector<std::string> words = {"natter", "chat", "--api-key", "sk-123", "--api-key=sk-456", "--api_key", "sk-789",
                                      "--system", "--api-key", "-p", "sk-000"};
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    cli::hide_secret_arguments(static_cast<int>(argv.size()), argv.data());
    const std::vector<std::string> expect = {"natter", "chat", "--api-key", "xxxxxx", "--api-key=xxxxxx", "--api_key", "xxxxxx",
                                             "--system", "--api-key", "xx", "sk-000"};
    EXPECT_EQ(std::vector<std::string>(argv.begin(), argv.end()), expect);
    std::vector<std::string> last = {"natter", "--api-key"};  // no value: nothing to hide, nothing read past the end
    std::vector<char*> argv2 = {last[0].data(), last[1].data()};
    cli::hide_secret_arguments(2, argv2.data());
    EXPECT_STREQ(argv2[1], "--api-key");
}

}  // namespace
}  // namespace natter
