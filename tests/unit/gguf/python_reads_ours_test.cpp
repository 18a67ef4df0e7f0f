// The `gguf` Python package (the format's reference reader) reads what our writer writes.
#include <cstdlib>

#include "gguf_test_util.h"

#ifndef NATTER_PYTHON
#define NATTER_PYTHON "python3"
#endif

namespace natter::test {
namespace {

class PythonReadsOurFile : public ::testing::TestWithParam<uint64_t> {};

TEST_P(PythonReadsOurFile, EveryValueAndTensorMatches) {
    const uint64_t alignment = GetParam();
    ScratchDir dir;
    const std::string path = (dir / "sample.gguf").string();
    write_sample(path, alignment);

    const std::string script = std::string(NATTER_SOURCE_DIR) + "/tests/unit/gguf/check_with_python.py";
    const std::string python = std::string(NATTER_PYTHON).empty() ? "python3" : NATTER_PYTHON;
    const std::string command =
        python + " '" + script + "' '" + path + "' " + std::to_string(alignment) + " 2>&1";
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << command;
    EXPECT_EQ(WEXITSTATUS(status), 0) << command << " found differences (printed above); "
                                      << "it needs the Python packages gguf and numpy";
}

INSTANTIATE_TEST_SUITE_P(Alignments, PythonReadsOurFile, ::testing::Values(32, 64));

}  // namespace
}  // namespace natter::test
