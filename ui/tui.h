#pragma once
// The full-screen chat. `natter` / `natter chat` on a terminal runs it; app/ knows it only
// through the hook in app/chat_frontend.h, which main() fills with add_chat_options and
// run_chat.
#include "ui/screen.h"

namespace CLI {
class App;
}

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

// Adds --color auto|always|never to the `natter chat` command.
void add_chat_options(CLI::App& chat_command);
// run_tui with the options add_chat_options read.
int run_chat(Session& session);

}  // namespace natter::ui
