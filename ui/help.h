#pragma once
// Help printed from the key and command tables: the F1 / /help screen and the KEYS and
// COMMANDS sections of man/natter.1 (a unit test keeps the man page in step).
#include <string>

namespace natter::ui {

// Plain text, one binding or command per line, keys in an aligned column.
std::string help_text();

// roff source for the man page's KEYS and COMMANDS sections.
std::string man_keys_section();

}  // namespace natter::ui
