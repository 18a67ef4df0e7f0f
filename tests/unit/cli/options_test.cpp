// natter's command line: llama.cpp's tutorial lines parsed by the real CLI11 setup of
// `natter chat` and `natter run`, and the natter binary's exit statuses and line mode.
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "inference/thread_pool.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;

const std::string kSource = NATTER_SOURCE_DIR;
const std::string kNatter = NATTER_BINARY;
const std::string kStories = std::string(NATTER_TEST_DATA_DIR) + "/models/stories260K.gguf";

// The two command lines of llama.cpp's tutorials the issue names, after `natter`.
const std::vector<std::string> kAlpacaLine = {"chat", "-m", "model.gguf", "--color", "-f", "prompts/alpaca.txt", "-ins",
                                              "-c", "2048", "--temp", "0.2", "-n", "256", "--repeat_penalty", "1.3"};
const std::vector<std::string> kBobLine = {"chat", "-m", "model.gguf", "-n", "256", "--repeat_penalty", "1.0", "--color",
                                           "-i", "-r", "User:", "-f", "prompts/chat-with-bob.txt"};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// One natter command line through main's steps: llama_args, then the CLI11 app. The prompt
// files are named relative to the source tree, as the tutorials do.
class CommandLine : public ::testing::Test {
protected:
    void SetUp() override {
        old_dir_ = fs::current_path();
        fs::current_path(kSource);
    }
    void TearDown() override { fs::current_path(old_dir_); }

    // Parses; returns what the command wrote on stderr while parsing.
    std::string parse(std::vector<std::string> args) {
        args = cli::llama_args(std::move(args));
        std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
        ::testing::internal::CaptureStderr();
        try {
            app_.parse(args);
        } catch (...) {
            ::testing::internal::GetCapturedStderr();
            throw;
        }
        return ::testing::internal::GetCapturedStderr();
    }

    CLI::App app_{"natter"};
    cli::ChatOptions chat_;
    cli::RunOptions run_;
    CLI::App* chat_cmd_ = cli::add_chat_options(app_, chat_);
    CLI::App* run_cmd_ = cli::add_run_options(app_, run_);

private:
    fs::path old_dir_;
};

TEST_F(CommandLine, AlpacaInstructLineIsTheAlpacaTemplateWithItsSettings) {
    EXPECT_EQ(parse(kAlpacaLine), "");
    const SessionOptions s = cli::session_options(chat_);
    EXPECT_EQ(s.model_path, "model.gguf");
    EXPECT_EQ(s.template_name, "alpaca");
    EXPECT_EQ(s.system_prompt, read_file(kSource + "/prompts/alpaca.txt"));
    EXPECT_EQ(s.n_ctx, 2048);
    EXPECT_FLOAT_EQ(s.settings.sampling.temperature, 0.2f);
    EXPECT_EQ(s.settings.max_tokens, 256);
    EXPECT_FLOAT_EQ(s.settings.sampling.repeat_penalty, 1.3f);
    EXPECT_EQ(chat_.color, "always");  // --color is a flag: it did not take -f
    EXPECT_TRUE(s.reverse_prompts.empty());
}

TEST_F(CommandLine, ChatWithBobLineStopsAtUserAndKeepsTheDetectedTemplate) {
    EXPECT_EQ(parse(kBobLine), "");
    const SessionOptions s = cli::session_options(chat_);
    EXPECT_EQ(s.template_name, "");  // -i is the chat itself: the model's own template
    EXPECT_EQ(s.system_prompt, read_file(kSource + "/prompts/chat-with-bob.txt"));
    EXPECT_EQ(s.reverse_prompts, std::vector<std::string>{"User:"});
    EXPECT_EQ(s.settings.max_tokens, 256);
    EXPECT_FLOAT_EQ(s.settings.sampling.repeat_penalty, 1.0f);
    EXPECT_EQ(chat_.color, "always");
}

TEST_F(CommandLine, ColorTakesItsValueOnlyAfterAnEqualsSign) {
    parse({"chat", "--color=never"});
    EXPECT_EQ(chat_.color, "never");
    EXPECT_THROW(parse({"chat", "--color", "never"}), CLI::ParseError);  // never is no argument of chat
}

TEST_F(CommandLine, ColorDefaultsToAuto) {
    parse({"chat"});
    EXPECT_EQ(chat_.color, "auto");
    EXPECT_EQ(cli::session_options(chat_).template_name, "");
}

TEST_F(CommandLine, UnderscoresAndLlamaCppShortFlagsAreAccepted) {
    const std::string err = parse({"-m", "x.gguf", "--ctx_size", "512", "--n_predict", "9", "--top_k", "3", "-ngl", "99",
                                   "--batch_size", "64", "--min_p", "0.1", "-cnv", "--interactive-first", "--in-prefix", " ",
                                   "--in-suffix", "Assistant:", "-sys", "Be brief.", "--mlock", "-fa"});
    const SessionOptions s = cli::session_options(chat_);
    EXPECT_EQ(s.n_ctx, 512);
    EXPECT_EQ(s.settings.max_tokens, 9);  // -ngl did not become -n gl
    EXPECT_EQ(s.settings.sampling.top_k, 3);
    EXPECT_EQ(s.n_batch, 64);
    EXPECT_FLOAT_EQ(s.settings.sampling.min_p, 0.1f);
    EXPECT_EQ(s.in_prefix, " ");
    EXPECT_EQ(s.in_suffix, "Assistant:");
    EXPECT_EQ(s.system_prompt, "Be brief.");
    EXPECT_EQ(err,
              "natter: -ngl has no effect: natter runs on the CPU\n"
              "natter: -fa has no effect: natter has one attention kernel, always on\n"
              "natter: --mlock has no effect: natter maps the model file and leaves its pages to the kernel\n");
}

TEST_F(CommandLine, InstructAndTemplateTogetherAreAUsageError) {
    EXPECT_THROW(parse({"chat", "-ins", "--template", "chatml"}), CLI::ParseError);
}

TEST_F(CommandLine, RunTakesTheSameFlagsAndAPromptFromStdin) {
    const std::string err = parse({"run", "-m", "x.gguf", "-f", "-", "-n", "16", "--ctx_size", "256", "-ngl", "10",
                                   "--repeat_penalty", "1.2", "-t", "1", "-r", "User:", "--color"});
    EXPECT_EQ(run_.prompt_file, "-");
    EXPECT_EQ(run_.common.model, "x.gguf");
    EXPECT_EQ(run_.common.n_predict, 16);
    EXPECT_EQ(run_.common.n_ctx, 256);
    EXPECT_EQ(run_.common.n_threads, 1);
    EXPECT_FLOAT_EQ(run_.common.sampling.repeat_penalty, 1.2f);
    EXPECT_EQ(run_.reverse_prompts, std::vector<std::string>{"User:"});
    EXPECT_EQ(err,
              "natter: -ngl has no effect: natter runs on the CPU\n"
              "natter: --color has no effect: natter run prints plain text\n");
}

TEST_F(CommandLine, RunDefaultsAre128TokensAnd2048Context) {
    parse({"run", "-p", "hi"});
    EXPECT_EQ(run_.common.n_predict, 128);
    EXPECT_EQ(run_.common.n_ctx, 2048);
}

TEST(LlamaArgs, NatterAloneOrWithOptionsIsTheChat) {
    EXPECT_EQ(cli::llama_args({}), std::vector<std::string>{"chat"});
    EXPECT_EQ(cli::llama_args({"-m", "x"}), (std::vector<std::string>{"chat", "-m", "x"}));
    EXPECT_EQ(cli::llama_args({"--help"}), std::vector<std::string>{"--help"});
    EXPECT_EQ(cli::llama_args({"run", "--top_k=5", "-p", "a_b", "--", "--x_y"}),
              (std::vector<std::string>{"run", "--top-k=5", "-p", "a_b", "--", "--x_y"}));
}

TEST(Threads, MoreThanTheCoresWarnAndAreClamped) {
    const int cores = physical_cores();
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(cli::threads_to_use(1000), cores);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "natter: -t 1000 is more than the " + std::to_string(cores) + (cores == 1 ? " core" : " cores") +
                       " here; using " + std::to_string(cores) + "\n");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(cli::threads_to_use(0), 0);
    EXPECT_EQ(cli::threads_to_use(cores), cores);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// --- the binary ---------------------------------------------------------------------------

struct Result {
    int status = -1;
    std::string out;  // stdout and stderr, in the files below
    std::string err;
};

// Runs a shell command line in a scratch directory of its own (XDG_DATA_HOME points there,
// so autosaves land in it), from the source tree.
class Binary : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("natter-cli-test-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    Result run(const std::string& command) {
        const std::string out = (dir_ / "out").string(), err = (dir_ / "err").string();
        const std::string line = "cd '" + kSource + "' && export XDG_DATA_HOME='" + dir_.string() + "' XDG_CONFIG_HOME='" +
                                 dir_.string() + "' && " + command + " >'" + out + "' 2>'" + err + "'";
        const int raw = std::system(line.c_str());
        Result r;
        r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        r.out = read_file(out);
        r.err = read_file(err);
        return r;
    }

    // The one chat autosaved in the scratch directory.
    nlohmann::json saved_chat() {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir_ / "natter" / "sessions")) files.push_back(e.path());
        EXPECT_EQ(files.size(), 1u);
        return files.empty() ? nlohmann::json{} : nlohmann::json::parse(read_file(files.front().string()));
    }

    static std::string join(std::vector<std::string> args) {
        std::string line = "'" + kNatter + "'";
        for (std::string a : args) {
            if (a == "model.gguf") a = kStories;
            line += " '" + a + "'";
        }
        return line;
    }

    fs::path dir_;
};

TEST_F(Binary, UsageErrorsExit2) {
    for (const char* args : {"--bogus", "chat --bogus", "run --no-such-flag", "chat -c lots", "chat --color=purple",
                             "run -t -5 -p x", "info", "chat -ins --template chatml", "frobnicate"}) {
        const Result r = run("'" + kNatter + "' " + args);
        EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
        EXPECT_FALSE(r.err.empty()) << args;
    }
}

TEST_F(Binary, HelpAndVersionExit0AndHelpShowsTheChatOptions) {
    const Result help = run("'" + kNatter + "' --help");
    EXPECT_EQ(help.status, 0);
    for (const char* option : {"run", "chat", "--ctx-size", "--in-prefix", "--reverse-prompt", "--template", "-ngl"}) {
        EXPECT_NE(help.out.find(option), std::string::npos) << option << "\n" << help.out;
    }
    EXPECT_EQ(run("'" + kNatter + "' --version").status, 0);
    EXPECT_EQ(run("'" + kNatter + "' chat --help").status, 0);
}

TEST_F(Binary, RuntimeErrorsExit1) {
    const Result missing = run("'" + kNatter + "' run -m /nonexistent/model.gguf -p hi");
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("natter: error: "), std::string::npos) << missing.err;
    EXPECT_EQ(run("'" + kNatter + "' run -m '" + kStories + "'").status, 1);  // no prompt
    EXPECT_EQ(run("echo hi | '" + kNatter + "' chat -m /nonexistent/model.gguf").status, 1);
}

TEST_F(Binary, AlpacaLineRunsInLineModeThroughAPipe) {
    const Result r = run("printf 'Tell me a story.\\n' | " + join(kAlpacaLine));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(r.out.empty());
    const nlohmann::json chat = saved_chat();
    EXPECT_EQ(chat["template"], "alpaca");
    EXPECT_EQ(chat["system_prompt"], read_file(kSource + "/prompts/alpaca.txt"));
    EXPECT_EQ(chat["settings"]["max_tokens"], 256);
    EXPECT_NEAR(chat["settings"]["temperature"].get<double>(), 0.2, 1e-6);
    EXPECT_NEAR(chat["settings"]["repeat_penalty"].get<double>(), 1.3, 1e-6);
    ASSERT_EQ(chat["messages"].size(), 2u);
    EXPECT_EQ(chat["messages"][0]["text"], "Tell me a story.");
    EXPECT_EQ(chat["messages"][1]["text"].get<std::string>() + "\n", r.out);
}

TEST_F(Binary, ChatWithBobLineRunsInLineModeThroughAPipe) {
    const Result r = run("printf 'Hi Bob.\\n' | " + join(kBobLine));
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json chat = saved_chat();
    EXPECT_EQ(chat["system_prompt"], read_file(kSource + "/prompts/chat-with-bob.txt"));
    EXPECT_EQ(chat["settings"]["reverse_prompts"], nlohmann::json::array({"User:"}));
    EXPECT_NEAR(chat["settings"]["repeat_penalty"].get<double>(), 1.0, 1e-6);
    ASSERT_EQ(chat["messages"].size(), 2u);
    const std::string reply = chat["messages"][1]["text"];
    const std::string reason = chat["messages"][1]["stop_reason"];
    // The reply ends at "User:" (the turn is handed back) or at one of the other limits.
    if (reply.find("User:") != std::string::npos) {
        EXPECT_EQ(reason, "reverse-prompt");
        EXPECT_TRUE(reply.ends_with("User:")) << reply;
    }
}

TEST_F(Binary, ReversePromptHandsTheTurnBack) {
    const Result r = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' --temp 0 -n 200 -r '.'");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json reply = saved_chat()["messages"][1];
    EXPECT_EQ(reply["stop_reason"], "reverse-prompt");
    EXPECT_TRUE(reply["text"].get<std::string>().ends_with(".")) << reply["text"];
}

TEST_F(Binary, InPrefixAndSuffixWrapTheUserTextInThePrompt) {
    const Result r = run("printf 'Hi\\n/prompt\\n' | '" + kNatter + "' -m '" + kStories +
                         "' --template raw -n 4 --temp 0 --in-prefix '[[' --in-suffix ']]'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("\n[[Hi]]"), std::string::npos) << r.err;  // /prompt shows it
    EXPECT_EQ(saved_chat()["messages"][0]["text"], "Hi");  // the message itself stays as typed
}

TEST_F(Binary, ContextAboveTheTrainingContextWarns) {
    const Result r = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' -c 4096 -n 2");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("natter: -c 4096 is more than the 2048 tokens the model was trained on"), std::string::npos) << r.err;
    const Result quiet = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' -c 1024 -n 2");
    EXPECT_EQ(quiet.err.find("trained on"), std::string::npos) << quiet.err;
}

TEST_F(Binary, RunReadsThePromptFromStdinAndEvaluatesItBatchByBatch) {
    const std::string base = "'" + kNatter + "' run -m '" + kStories + "' -f - -n 12 --temp 0 -t 1 --no-display-prompt";
    const Result one = run("printf 'Once upon a time, there was a little girl named Lily.' | " + base + " -b 512");
    const Result many = run("printf 'Once upon a time, there was a little girl named Lily.' | " + base + " -b 3");
    ASSERT_EQ(one.status, 0) << one.err;
    ASSERT_EQ(many.status, 0) << many.err;
    EXPECT_FALSE(one.out.empty());
    EXPECT_EQ(one.out, many.out);  // batch size changes nothing in the result
    EXPECT_EQ(many.err.find('\r'), std::string::npos) << many.err;  // stderr is no terminal: no progress line
}

TEST_F(Binary, RunShowsPromptProgressOnATerminal) {
    // script(1) gives natter a terminal; stdout goes to a file, stderr to the terminal.
    const Result r = run("script -qec \"printf 'Once upon a time, there was a little girl named Lily.' | '" + kNatter +
                         "' run -m '" + kStories + "' -f - -n 2 -t 1 -b 4 >/dev/null\" /dev/null");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\rnatter: prompt 0/"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\rnatter: prompt 12/"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace natter::test
