#pragma once
// The full-screen chat. `natter` / `natter chat` on a terminal runs it (cli/cmd_chat.cpp).
#include "ui/screen.h"

namespace natter {
class Session;
}

namespace natter::ui {

struct TuiOptions {
    ColorMode color = ColorMode::Auto;
};

// Runs the chat on the terminal until the user quits; autosaves the conversation before
// returning (and says where). Returns the exit code.
int run_tui(Session& session, const TuiOptions& options);

}  // namespace natter::ui
