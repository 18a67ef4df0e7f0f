// GgufValue conversions and its display rendering.
#include <limits>

#include "gguf_test_util.h"
#include "unit/error_text.h"

namespace natter::test {
namespace {

using V = GgufValue;

TEST(GgufValue, TypeFollowsTheAlternative) {
    EXPECT_EQ(V{uint8_t{1}}.type(), GgufType::UINT8);
    EXPECT_EQ(V{int16_t{1}}.type(), GgufType::INT16);
    EXPECT_EQ(V{1.0f}.type(), GgufType::FLOAT32);
    EXPECT_EQ(V{true}.type(), GgufType::BOOL);
    EXPECT_EQ(V{std::string()}.type(), GgufType::STRING);
    EXPECT_EQ(array_of(GgufType::INT8, {}).type(), GgufType::ARRAY);
    EXPECT_EQ(V{uint64_t{1}}.type(), GgufType::UINT64);
    EXPECT_EQ(V{1.0}.type(), GgufType::FLOAT64);
    EXPECT_TRUE(V{int64_t{-1}}.is_integer());
    EXPECT_FALSE(V{true}.is_integer());
    EXPECT_TRUE(V{1.0}.is_number());
    EXPECT_FALSE(V{std::string("1")}.is_number());
}

TEST(GgufValue, IntegerConversionsCheckRange) {
    EXPECT_EQ(V{uint32_t{4000000000u}}.as_int(), 4000000000);
    EXPECT_EQ(V{int8_t{-5}}.as_int(), -5);
    EXPECT_EQ(V{uint64_t{1} << 63}.as_uint(), uint64_t{1} << 63);
    EXPECT_EQ(error_of([] { V{uint64_t{1} << 63}.as_int(); }), "integer value 9223372036854775808 does not fit in int64");
    EXPECT_EQ(error_of([] { V{int32_t{-1}}.as_uint(); }), "expected a non-negative integer but the value is -1");
    EXPECT_EQ(error_of([] { V{1.5f}.as_int(); }), "expected an integer but the value is of type float32");
    EXPECT_EQ(error_of([] { V{true}.as_int(); }), "expected an integer but the value is of type bool");
}

TEST(GgufValue, OtherConversions) {
    EXPECT_EQ(V{int16_t{-3}}.as_float(), -3.0);
    EXPECT_EQ(V{uint64_t{1} << 63}.as_float(), 9223372036854775808.0);
    EXPECT_EQ(V{0.25f}.as_float(), 0.25);
    EXPECT_TRUE(V{true}.as_bool());
    EXPECT_EQ(error_of([] { V{uint8_t{1}}.as_bool(); }), "expected a bool but the value is of type uint8");
    EXPECT_EQ(error_of([] { V{uint8_t{1}}.as_string(); }), "expected a string but the value is of type uint8");
    EXPECT_EQ(error_of([] { V{std::string("x")}.as_float(); }), "expected a number but the value is of type string");
    EXPECT_EQ(error_of([] { V{std::string("x")}.as_array(); }), "expected an array but the value is of type string");

    const V ints = array_of(GgufType::UINT16, {V{uint16_t{1}}, V{uint16_t{65535}}});
    EXPECT_EQ(ints.as_int_array(), (std::vector<int64_t>{1, 65535}));
    EXPECT_EQ(ints.as_float_array(), (std::vector<float>{1.0f, 65535.0f}));
    EXPECT_EQ(error_of([&] { ints.as_string_array(); }), "expected a string but the value is of type uint16");
    const V floats = array_of(GgufType::FLOAT32, {V{0.5f}});
    EXPECT_EQ(floats.as_float_array(), std::vector<float>{0.5f});
    EXPECT_EQ(error_of([&] { floats.as_int_array(); }), "expected an integer but the value is of type float32");
    const V strings = array_of(GgufType::STRING, {V{std::string("a")}, V{std::string("b")}});
    EXPECT_EQ(strings.as_string_array(), (std::vector<std::string>{"a", "b"}));
}

TEST(GgufValue, DisplayOfScalars) {
    EXPECT_EQ(V{uint8_t{200}}.to_display_string(), "200");
    EXPECT_EQ(V{int8_t{-100}}.to_display_string(), "-100");
    EXPECT_EQ(V{uint64_t{18446744073709551615ull}}.to_display_string(), "18446744073709551615");
    EXPECT_EQ(V{false}.to_display_string(), "false");
    EXPECT_EQ(V{1e-5f}.to_display_string(), "1e-05");
    EXPECT_EQ(V{100000.0f}.to_display_string(), "100000.0");
    EXPECT_EQ(V{0.1f}.to_display_string(), "0.1");
    EXPECT_EQ(V{0.0}.to_display_string(), "0.0");
    EXPECT_EQ(V{-2.5e-300}.to_display_string(), "-2.5e-300");
    EXPECT_EQ(V{std::numeric_limits<float>::infinity()}.to_display_string(), "inf");
}

TEST(GgufValue, DisplayOfStringsEscapesWhatATerminalShouldNotSee) {
    EXPECT_EQ(V{std::string("llama")}.to_display_string(), "\"llama\"");
    EXPECT_EQ(V{std::string("a\"b\\c\nd\te")}.to_display_string(), R"("a\"b\\c\nd\te")");
    EXPECT_EQ(V{std::string("\x01\x7F")}.to_display_string(), R"("\x01\x7F")");
    EXPECT_EQ(V{std::string("\xC4\xA0t \xE2\x9C\x93")}.to_display_string(), "\"\xC4\xA0t \xE2\x9C\x93\"");  // "Ġt ✓"
    // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/'.
    EXPECT_EQ(V{std::string("\x80 \xE2\x9C \xC0\xAF")}.to_display_string(), R"("\x80 \xE2\x9C \xC0\xAF")");
}

TEST(GgufValue, DisplayOfArraysAbbreviatesLongOnes) {
    std::vector<V> tokens;
    for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b"}) tokens.push_back(V{std::string(t)});
    const V long_array = array_of(GgufType::STRING, tokens);
    EXPECT_EQ(long_array.to_display_string(2), R"([5 strings] "<|endoftext|>", "<|im_start|>", ...)");
    EXPECT_EQ(long_array.to_display_string(5), R"(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b"])");
    EXPECT_EQ(long_array.to_display_string(0), "[5 strings] ...");
    const V ints = array_of(GgufType::INT32, {V{int32_t{3}}, V{int32_t{-1}}, V{int32_t{7}}});
    EXPECT_EQ(ints.to_display_string(), "[3, -1, 7]");
    EXPECT_EQ(ints.to_display_string(1), "[3 int32 values] 3, ...");
    EXPECT_EQ(array_of(GgufType::FLOAT32, {}).to_display_string(), "[]");
    const V nested = array_of(GgufType::ARRAY, {ints, array_of(GgufType::INT32, {})});
    EXPECT_EQ(nested.to_display_string(), "[[3, -1, 7], []]");
    EXPECT_EQ(nested.to_display_string(1), "[2 arrays] [3 int32 values] 3, ..., ...");
}

TEST(GgufValue, TypeNames) {
    EXPECT_EQ(gguf_type_name(GgufType::UINT8), "uint8");
    EXPECT_EQ(gguf_type_name(GgufType::FLOAT64), "float64");
    EXPECT_EQ(gguf_type_name(GgufType::ARRAY), "array");
    EXPECT_EQ(gguf_type_name(static_cast<GgufType>(99)), "unknown");
}

}  // namespace
}  // namespace natter::test
