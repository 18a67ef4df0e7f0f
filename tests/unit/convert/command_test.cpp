// `natter convert` as a command: --help, a bad --outtype (one sentence, status 1, no file),
// a missing argument (status 2), and a conversion through the binary with its summary.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "unit/convert/convert_test_util.h"

namespace natter::test {
namespace {

namespace fs = std::filesystem;

struct NatterRun {
    int status = -1;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

NatterRun natter(std::vector<std::string> args) {
    const fs::path work = NATTER_CONVERT_WORK;
    fs::create_directories(work);
    const fs::path out = work / ("out-" + std::to_string(::getpid())), err = work / ("err-" + std::to_string(::getpid()));
    std::string binary = NATTER_BINARY;
    std::vector<char*> argv{binary.data()};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (std::freopen(out.c_str(), "w", stdout) == nullptr || std::freopen(err.c_str(), "w", stderr) == nullptr) _exit(126);
        ::execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    NatterRun r{WIFEXITED(status) ? WEXITSTATUS(status) : 128, slurp(out), slurp(err)};
    fs::remove(out);
    fs::remove(err);
    return r;
}

TEST(ConvertCommand, HelpBadOuttypeMissingArgument) {
    const NatterRun help = natter({"convert", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("--outtype"), std::string::npos) << help.out;
    const fs::path x = fs::path(NATTER_CONVERT_WORK) / "x.gguf";
    const NatterRun bad = natter({"convert", checkpoint_dir("llama"), x.string(), "--outtype", "q4_0"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, "natter: error: unknown --outtype 'q4_0'; choose f32, f16, bf16 or q8_0\n");
    EXPECT_FALSE(fs::exists(x));
    EXPECT_EQ(natter({"convert"}).status, 2);
}

TEST(ConvertCommand, ConvertsAndSummarizes) {
    const fs::path x = fs::path(NATTER_CONVERT_WORK) / ("qwen3-" + std::to_string(::getpid()) + ".gguf");
    const NatterRun r = natter({"convert", checkpoint_dir("qwen3"), x.string(), "--outtype", "bf16"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), x.string() + ": qwen3 (Qwen3ForCausalLM), bf16, vocabulary llama (default)");
    EXPECT_NE(r.out.find("tensors  25 (9 F32, 16 BF16), 164288 parameters"), std::string::npos) << r.out;
    EXPECT_EQ(file_sha256(x), convert_reference("qwen3")["llama_cpp"]["bf16"]["file_sha256"].get<std::string>());
    fs::remove(x);
}

}  // namespace
}  // namespace natter::test
