// Unicode classes, UTF-8 decoding, GPT-2's byte alphabet and the UTF-8 stream.
#include <gtest/gtest.h>

#include "inference/tokenizer.h"
#include "inference/unicode.h"

namespace natter {
namespace {

using namespace unicode;

TEST(Unicode, CategoriesOfKnownCodepoints) {
    EXPECT_EQ(flags(U'A'), kLetter);
    EXPECT_EQ(flags(U'中'), kLetter);           // Lo
    EXPECT_EQ(flags(U'7'), kNumber);
    EXPECT_EQ(flags(U'½'), kNumber);            // No
    EXPECT_EQ(flags(U'Ⅻ'), kNumber);            // Nl
    EXPECT_EQ(flags(U'。'), kPunctuation);
    EXPECT_EQ(flags(U'$'), kSymbol);
    EXPECT_EQ(flags(U'😀'), kSymbol);
    EXPECT_EQ(flags(0x0301), kMark);            // combining acute
    EXPECT_EQ(flags(U' '), kSeparator | kWhitespace);
    EXPECT_EQ(flags(0x3000), kSeparator | kWhitespace);  // ideographic space
    EXPECT_EQ(flags(U'\n'), kControl | kWhitespace);
    EXPECT_EQ(flags(0x0085), kControl | kWhitespace);    // NEL
    EXPECT_EQ(flags(0x200B), kControl);         // zero width space: Cf, not White_Space
    EXPECT_EQ(flags(0x0378), 0);                // unassigned
    EXPECT_EQ(flags(0x31350), kLetter);         // CJK extension H: Unicode 15.0
    EXPECT_EQ(flags(0x110000), 0);
}

TEST(Unicode, LenientDecodingLikeLlamaCpp) {
    EXPECT_EQ(decode_utf8("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"),
              (std::vector<char32_t>{U'a', U'é', U'中', U'😀'}));
    // Each malformed byte becomes one U+FFFD: a stray continuation, a truncated sequence,
    // a lead byte followed by a non-continuation, an impossible lead.
    EXPECT_EQ(decode_utf8("\x80"), (std::vector<char32_t>{kReplacement}));
    EXPECT_EQ(decode_utf8("\xE4\xB8"), (std::vector<char32_t>{kReplacement, kReplacement}));
    EXPECT_EQ(decode_utf8("\xC3" "a"), (std::vector<char32_t>{kReplacement, U'a'}));
    EXPECT_EQ(decode_utf8("\xFF"), (std::vector<char32_t>{kReplacement}));
    std::string out;
    for (char32_t c : {U'a', U'é', U'中', U'😀'}) append_utf8(out, c);
    EXPECT_EQ(out, "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
}

TEST(Unicode, StrictValidation) {
    EXPECT_TRUE(is_valid_utf8("plain é 中 😀"));
    EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong NUL
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));          // truncated
}

TEST(Unicode, Gpt2ByteAlphabet) {
    EXPECT_EQ(byte_to_codepoint('a'), U'a');
    EXPECT_EQ(byte_to_codepoint(' '), 0x120u);   // "Ġ"
    EXPECT_EQ(byte_to_codepoint('\n'), 0x10Au);  // "Ċ"
    EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);  // the last of the unprintable bytes
    EXPECT_EQ(byte_to_codepoint(0xE9), 0xE9u);
    for (int b = 0; b < 256; ++b) EXPECT_EQ(codepoint_to_byte(byte_to_codepoint(uint8_t(b))), b);
    EXPECT_EQ(codepoint_to_byte(U'中'), -1);
    EXPECT_EQ(codepoint_to_byte(0x144), -1);
}

TEST(Utf8Stream, ChineseFedByteByByteNeverSplitsACharacter) {
    const std::string text = "你好，世界";
    Utf8Stream stream;
    std::string joined;
    for (char byte : text) {
        const std::string out = stream.push(std::string_view(&byte, 1));
        EXPECT_TRUE(is_valid_utf8(out)) << "partial character emitted";
        EXPECT_TRUE(out.empty() || out.size() == 3);  // each of these characters is 3 bytes
        joined += out;
    }
    EXPECT_EQ(joined + stream.flush(), text);
}

TEST(Utf8Stream, EmojiSplitAcrossPieces) {
    Utf8Stream stream;
    EXPECT_EQ(stream.push("ok \xF0\x9F"), "ok ");
    EXPECT_EQ(stream.push("\x98"), "");
    EXPECT_EQ(stream.push("\x80!"), "😀!");
    EXPECT_EQ(stream.flush(), "");
}

TEST(Utf8Stream, MalformedBytesBecomeReplacementCharacters) {
    Utf8Stream stream;
    EXPECT_EQ(stream.push("a\xFF" "b"), "a\uFFFD" "b");
    EXPECT_EQ(stream.push("\xC3" "x"), "\uFFFDx");      // lead byte without continuation
    EXPECT_EQ(stream.push("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate: each byte
    EXPECT_EQ(stream.push("\xE4\xB8"), "");              // could still complete
    EXPECT_EQ(stream.flush(), "\uFFFD");                 // but the stream ended
    EXPECT_EQ(stream.flush(), "");
}

}  // namespace
}  // namespace natter
