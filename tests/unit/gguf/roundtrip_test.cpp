// Writer -> reader round trips, and the writer's validation and atomic-write behaviour.
#include <sys/resource.h>

#include <csignal>

#include "gguf_test_util.h"

namespace natter::test {
namespace {

bool same_value(const GgufValue& a, const GgufValue& b) {
    if (a.type() != b.type()) return false;
    if (const auto* x = std::get_if<GgufArray>(&a.value)) {
        const GgufArray& y = b.as_array();
        if (x->element_type != y.element_type || x->items.size() != y.items.size()) return false;
        for (size_t i = 0; i < x->items.size(); ++i) {
            if (!same_value(x->items[i], y.items[i])) return false;
        }
        return true;
    }
    return std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, GgufArray>) {
                return false;  // handled above
            } else {
                return x == std::get<T>(b.value);  // no NaN in the sample, so == is exact
            }
        },
        a.value);
}

GgufFile write_and_open(const GgufWriter& writer, const std::filesystem::path& path) {
    writer.write(path.string());
    return GgufFile::open(path.string());
}

class RoundTrip : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RoundTrip, EveryValueTypeAndTensorSurvives) {
    const uint64_t alignment = GetParam();
    ScratchDir dir;
    const std::vector<SampleTensor> tensors = sample_tensors();
    write_sample(dir / "sample.gguf", alignment);
    const GgufFile file = GgufFile::open((dir / "sample.gguf").string());

    EXPECT_EQ(file.version(), 3u);
    EXPECT_EQ(file.alignment(), alignment);
    EXPECT_EQ(file.data_offset() % alignment, 0u);
    const auto expected = sample_metadata();
    const size_t extra = alignment != 32 ? 1 : 0;  // general.alignment, written last
    ASSERT_EQ(file.metadata().size(), expected.size() + extra);
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(file.metadata()[i].first, expected[i].first) << "metadata order";
        EXPECT_TRUE(same_value(file.metadata()[i].second, expected[i].second)) << expected[i].first;
    }
    if (extra) {
        EXPECT_EQ(file.get("general.alignment").as_uint(), alignment);
    }

    ASSERT_EQ(file.tensors().size(), tensors.size());
    const uint8_t* mapping_begin = file.tensors()[0].data - file.data_offset() - file.tensors()[0].offset;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const GgufTensor& t = file.tensors()[i];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, tensors[i].name);
        EXPECT_EQ(t.type, tensors[i].type);
        EXPECT_EQ(t.shape, tensors[i].shape);
        EXPECT_EQ(t.nbytes, tensors[i].data.size());
        EXPECT_EQ(t.nbytes, row_size(t.type, t.shape[0]) * static_cast<size_t>(t.rows()));
        EXPECT_EQ(t.offset % alignment, 0u);
        EXPECT_EQ(t.data, mapping_begin + file.data_offset() + t.offset) << "data points into the mapping";
        EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.nbytes), tensors[i].data);
        EXPECT_EQ(file.find_tensor(t.name), &t);
    }
    EXPECT_EQ(file.find_tensor("absent"), nullptr);
    // Tensors are packed in order, each starting at the next aligned offset.
    EXPECT_EQ(file.tensors()[1].offset, (48 + alignment - 1) / alignment * alignment);
}

INSTANTIATE_TEST_SUITE_P(Alignments, RoundTrip, ::testing::Values(32, 64, 1, 4096));

TEST(GgufWriter, ProducesTheExactBytesTheSpecificationDescribes) {
    ScratchDir dir;
    const float values[2] = {1.5f, -2.0f};
    GgufWriter writer;
    writer.set("a", GgufValue{uint32_t{7}});
    writer.set("s", GgufValue{std::string("xy")});
    writer.add_tensor("w", GgmlType::F32, {2}, values, sizeof values);
    writer.write((dir / "tiny.gguf").string());

    Bytes expected;
    expected.header(1, 2).kv_u32("a", 7).str("s").u32(8).str("xy").tensor_info("w", {2}, 0, 0).pad_to(32);
    expected.put(1.5f).put(-2.0f).pad_to(32);
    EXPECT_EQ(read_file(dir / "tiny.gguf"), expected.b);
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlaceAndRemoveDeletesIt) {
    ScratchDir dir;
    GgufWriter writer;
    writer.set("first", GgufValue{uint8_t{1}});
    writer.set("second", GgufValue{uint8_t{2}});
    writer.set("first", GgufValue{std::string("replaced")});
    writer.set("third", GgufValue{uint8_t{3}});
    writer.remove("second");
    writer.remove("never-set");
    const GgufFile file = write_and_open(writer, dir / "kv.gguf");
    ASSERT_EQ(file.metadata().size(), 2u);
    EXPECT_EQ(file.metadata()[0].first, "first");
    EXPECT_EQ(file.metadata()[0].second.as_string(), "replaced");
    EXPECT_EQ(file.metadata()[1].first, "third");
    EXPECT_TRUE(file.tensors().empty());
}

TEST(GgufWriter, AlignmentKeyAndSetAlignmentAgree) {
    ScratchDir dir;
    const std::vector<uint8_t> data(34, 0);
    GgufWriter writer;
    writer.set("general.alignment", GgufValue{uint32_t{128}});
    writer.add_tensor("a", GgmlType::Q8_0, {32}, data.data(), data.size());
    writer.add_tensor("b", GgmlType::Q8_0, {32}, data.data(), data.size());
    GgufFile file = write_and_open(writer, dir / "a128.gguf");
    EXPECT_EQ(file.alignment(), 128u);
    EXPECT_EQ(file.tensors()[1].offset, 128u);

    writer.remove("general.alignment");
    file = write_and_open(writer, dir / "a32.gguf");
    EXPECT_EQ(file.alignment(), 32u);
    EXPECT_EQ(file.tensors()[1].offset, 64u);
    EXPECT_EQ(file.find("general.alignment"), nullptr);
}

void expect_writer_error(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "expected an error containing: " << needle;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(GgufWriter, RejectsInconsistentTensorsAndValues) {
    const std::vector<uint8_t> data(4096, 0);
    GgufWriter w;
    w.add_tensor("ok", GgmlType::F32, {4}, data.data(), 16);
    expect_writer_error([&] { w.add_tensor("ok", GgmlType::F32, {4}, data.data(), 16); }, "added twice");
    expect_writer_error([&] { w.add_tensor("x", GgmlType::F32, {4}, data.data(), 12); }, "shape needs 16");
    expect_writer_error([&] { w.add_tensor("x", GgmlType::Q4_0, {48}, data.data(), 18); }, "block size 32");
    expect_writer_error([&] { w.add_tensor("x", GgmlType::F32, {}, data.data(), 4); }, "0 dimensions");
    expect_writer_error([&] { w.add_tensor("x", GgmlType::F32, {1, 1, 1, 1, 1}, data.data(), 4); }, "5 dimensions");
    expect_writer_error([&] { w.add_tensor("x", GgmlType::F32, {4, 0}, data.data(), 0); }, "dimension of size 0");
    expect_writer_error([&] { w.add_tensor("x", static_cast<GgmlType>(99), {4}, data.data(), 4); }, "unsupported type 99");
    expect_writer_error([&] { w.set_alignment(48); }, "alignment 48 is invalid");
    expect_writer_error([&] { w.set("general.alignment", GgufValue{std::string("32")}); }, "must be an integer");
    expect_writer_error(
        [&] { w.set("mixed", array_of(GgufType::INT32, {GgufValue{int32_t{1}}, GgufValue{1.0f}})); },
        "an array of int32 holds an item of type float32");
}

TEST(GgufWriter, FailureLeavesNoTemporaryFileAndKeepsTheOldFile) {
    ScratchDir dir;
    GgufWriter writer;
    writer.set("k", GgufValue{uint8_t{1}});
    expect_writer_error([&] { writer.write((dir / "missing-dir" / "x.gguf").string()); }, "No such file or directory");
    EXPECT_FALSE(std::filesystem::exists(dir / "missing-dir"));

    // The target exists and is replaced whole; a directory where the target should be
    // makes rename fail after everything was written, and the temporary file goes away.
    std::filesystem::create_directory(dir / "is-a-dir.gguf");
    expect_writer_error([&] { writer.write((dir / "is-a-dir.gguf").string()); }, "cannot rename");
    EXPECT_FALSE(std::filesystem::exists(dir / "is-a-dir.gguf.tmp"));
    EXPECT_TRUE(std::filesystem::is_directory(dir / "is-a-dir.gguf"));
}

// A full disk, simulated with a file size limit: write() fails with a clear error, removes
// its temporary file and leaves the previous file untouched.
TEST(GgufWriterDeathTest, DiskFullGivesAClearErrorAndRemovesTheTemporaryFile) {
    ScratchDir dir;
    const std::string path = (dir / "model.gguf").string();
    const std::vector<uint8_t> big(1 << 20, 0x5A);
    GgufWriter small;
    small.set("k", GgufValue{uint8_t{1}});
    small.write(path);
    const std::vector<uint8_t> before = read_file(path);
    GgufWriter writer;
    writer.add_tensor("big", GgmlType::F32, {static_cast<int64_t>(big.size() / 4)}, big.data(), big.size());

    const auto write_with_a_full_disk = [&] {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        try {
            writer.write(path);
        } catch (const Error& e) {
            std::fprintf(stderr, "%s\n", e.what());
            std::exit(std::filesystem::exists(path + ".tmp") ? 2 : 0);
        }
        std::exit(3);
    };
    EXPECT_EXIT(write_with_a_full_disk(), ::testing::ExitedWithCode(0), "model.gguf: cannot write .*model.gguf.tmp: File too large");
    EXPECT_EQ(read_file(path), before);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufReader, AcceptsVersion2) {
    ScratchDir dir;
    const std::vector<SampleTensor> tensors = sample_tensors();
    write_sample(dir / "v3.gguf");
    std::vector<uint8_t> bytes = read_file(dir / "v3.gguf");
    bytes[4] = 2;  // v2 differs from v3 only in the version number (for little-endian files)
    const GgufFile file = GgufFile::parse(bytes, "v2.gguf");
    EXPECT_EQ(file.version(), 2u);
    EXPECT_EQ(file.metadata().size(), sample_metadata().size());
    EXPECT_EQ(file.tensors().size(), tensors.size());
    EXPECT_EQ(file.tensors()[0].data, bytes.data() + file.data_offset());
}

}  // namespace
}  // namespace natter::test
