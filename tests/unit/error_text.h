#pragma once
// The message of the natter::Error a piece of code throws, for tests that check the words.
#include <functional>
#include <string>

#include "core/error.h"

namespace natter::test {

// "(no error)" when `f` throws nothing.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace natter::test
