#pragma once
// The one exception type of the project. Its message is a complete sentence
// meant for the user; main() prints "natter: error: <message>" and exits 1.
#include <stdexcept>
#include <string>

namespace natter {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace natter
