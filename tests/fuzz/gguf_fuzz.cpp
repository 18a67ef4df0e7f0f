// libFuzzer target for the GGUF reader: any input must either parse or throw natter::Error.
// Anything else (a crash, a sanitizer report, another exception type, a huge allocation)
// is a bug. Parsed files are walked completely so that every pointer the reader hands out
// is dereferenced under the address sanitizer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "inference/gguf.h"

namespace {

void touch_value(const natter::GgufValue& value) {
    (void)value.to_display_string(4);
    try {
        (void)value.as_float();
        (void)value.as_int();
    } catch (const natter::Error&) {
    }
}

void walk(const natter::GgufFile& file) {
    for (const auto& [key, value] : file.metadata()) {
        touch_value(value);
        if (file.find(key) == nullptr) __builtin_trap();
    }
    (void)file.get_int("general.alignment", 0);
    volatile uint8_t sink = 0;
    for (const natter::GgufTensor& t : file.tensors()) {
        if (t.n_elements() <= 0 || t.rows() <= 0 || t.nbytes == 0) __builtin_trap();
        if (t.offset % file.alignment() != 0) __builtin_trap();
        sink = sink ^ t.data[0] ^ t.data[t.nbytes - 1];
        if (file.find_tensor(t.name) != &t) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const natter::GgufFile file = natter::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
        walk(file);
    } catch (const natter::Error&) {
        // A clear error is the right answer to a malformed file.
    }
    return 0;
}
