#pragma once
// Text with meaning attached: the pure layout code says what a piece of text is (a
// heading, code, the user's words) and the screen decides how that looks on this
// terminal (colours, bold, or plain attributes under NO_COLOR).
#include <cstdint>
#include <string>
#include <vector>

namespace natter::ui {

enum class Style : std::uint8_t {
    Plain,
    Bold,            // **bold** in a reply
    Heading,         // # heading
    Code,            // inside a fenced block or `inline code`
    CodeFence,       // the ``` lines themselves (shown dimmed)
    Bullet,          // the marker of a list item
    UserLabel,       // the "You" line above a user turn
    AssistantLabel,  // the model's name above a reply
    UserText,        // what the user wrote
    Dim,             // notes such as "[interrupted]"
    Error,
};

struct Span {
    std::string text;  // UTF-8, already sanitized (no control characters, no newlines)
    Style style = Style::Plain;
    bool operator==(const Span&) const = default;
};

// One row of text. `indent` is the hanging indent its continuation rows get when it is
// wrapped (list items continue under their text, not under the bullet).
struct StyledLine {
    std::vector<Span> spans;
    int indent = 0;

    void add(std::string text, Style style);  // merges with the last span of the same style
    std::string text() const;                 // the spans' text joined, for tests and copying
    bool operator==(const StyledLine&) const = default;
};

}  // namespace natter::ui
