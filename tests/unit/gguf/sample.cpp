// The sample GGUF content used by the round-trip, truncation and Python tests.
#include <cstring>

#include "gguf_test_util.h"

namespace natter::test {

std::vector<std::pair<std::string, GgufValue>> sample_metadata() {
    using V = GgufValue;
    using T = GgufType;
    const auto ints = [](std::initializer_list<int32_t> xs) {
        std::vector<V> out;
        for (const int32_t x : xs) out.push_back(V{x});
        return array_of(T::INT32, out);
    };
    return {
        {"general.architecture", V{std::string("llama")}},
        {"test.u8", V{uint8_t{200}}},
        {"test.i8", V{int8_t{-100}}},
        {"test.u16", V{uint16_t{60000}}},
        {"test.i16", V{int16_t{-30000}}},
        {"test.u32", V{uint32_t{4000000000u}}},
        {"test.i32", V{int32_t{-2000000000}}},
        {"test.f32", V{3.25f}},
        {"test.bool_true", V{true}},
        {"test.bool_false", V{false}},
        {"test.string", V{std::string("h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93")}},  // "héllo wörld ✓"
        {"test.empty_string", V{std::string()}},
        {"test.u64", V{uint64_t{9223372036854775813ull}}},
        {"test.i64", V{int64_t{-4611686018427387904ll}}},
        {"test.f64", V{-2.5e-300}},
        {"test.array.u8", array_of(T::UINT8, {V{uint8_t{1}}, V{uint8_t{2}}, V{uint8_t{255}}})},
        {"test.array.i16", array_of(T::INT16, {V{int16_t{-32768}}, V{int16_t{32767}}})},
        {"test.array.u32", array_of(T::UINT32, {V{uint32_t{7}}})},
        {"test.array.i64", array_of(T::INT64, {V{int64_t{-1}}, V{int64_t{1} << 40}})},
        {"test.array.f32", array_of(T::FLOAT32, {V{0.5f}, V{-1e-5f}, V{100000.0f}})},
        {"test.array.f64", array_of(T::FLOAT64, {V{1.0 / 3.0}})},
        {"test.array.bool", array_of(T::BOOL, {V{true}, V{false}, V{true}})},
        {"test.array.string", array_of(T::STRING, {V{std::string("<s>")}, V{std::string("")},
                                                   V{std::string("\xE4\xBD\xA0\xE5\xA5\xBD")}})},  // "你好"
        {"test.array.empty", array_of(T::INT32, {})},
        {"test.nested.int32", array_of(T::ARRAY, {ints({1, 2}), ints({3}), ints({})})},
        {"test.nested.string",
         array_of(T::ARRAY, {array_of(T::STRING, {V{std::string("a")}, V{std::string("b")}}),
                             array_of(T::STRING, {V{std::string("c")}})})},
        {"test.nested.deep",
         array_of(T::ARRAY, {array_of(T::ARRAY, {array_of(T::UINT16, {V{uint16_t{1}}})}),
                             array_of(T::ARRAY, {array_of(T::UINT16, {V{uint16_t{2}}, V{uint16_t{3}}})})})},
    };
}

std::vector<SampleTensor> sample_tensors() {
    std::vector<SampleTensor> tensors = {
        {"t.f32", GgmlType::F32, {4, 3}, {}},
        {"t.f16", GgmlType::F16, {64}, std::vector<uint8_t>(128)},
        {"t.q4_0", GgmlType::Q4_0, {64, 2}, std::vector<uint8_t>(4 * 18)},
        {"t.q8_0", GgmlType::Q8_0, {32, 3}, std::vector<uint8_t>(3 * 34)},
        {"t.q4_k", GgmlType::Q4_K, {256}, std::vector<uint8_t>(144)},
        {"t.q6_k", GgmlType::Q6_K, {256, 2}, std::vector<uint8_t>(2 * 210)},
        // Last, and a multiple of 32 bytes long, so that the file ends with its last byte.
        {"t.last", GgmlType::F32, {16}, std::vector<uint8_t>(64)},
    };
    // t.f32 holds 0, 1, ..., 11 so that readers can check values, the rest a byte pattern.
    tensors[0].data.resize(12 * sizeof(float));
    for (int i = 0; i < 12; ++i) {
        const float x = static_cast<float>(i);
        std::memcpy(tensors[0].data.data() + i * sizeof(float), &x, sizeof x);
    }
    for (size_t k = 1; k < tensors.size(); ++k) {
        for (size_t i = 0; i < tensors[k].data.size(); ++i) tensors[k].data[i] = sample_byte(k, i);
    }
    return tensors;
}

void write_sample(const std::filesystem::path& path, uint64_t alignment) {
    const std::vector<SampleTensor> tensors = sample_tensors();
    GgufWriter writer;
    for (auto& [key, value] : sample_metadata()) writer.set(key, value);
    for (const SampleTensor& t : tensors) writer.add_tensor(t.name, t.type, t.shape, t.data.data(), t.data.size());
    if (alignment != 32) writer.set_alignment(alignment);
    writer.write(path.string());
}

}  // namespace natter::test
