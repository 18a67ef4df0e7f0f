#pragma once
// Copying to the user's clipboard through the terminal (OSC 52), which works over ssh and
// inside tmux (with `set -g set-clipboard on`) where no clipboard program is reachable.
#include <string>
#include <string_view>

namespace natter::ui {

std::string base64(std::string_view bytes);
// The escape sequence that puts `text` on the clipboard ("c" selection).
std::string osc52_sequence(std::string_view text);

}  // namespace natter::ui
