#pragma once
// The hook through which `natter chat` opens the full-screen chat (ui/) when stdin and
// stdout are terminals. app/ must not depend on ui/, so the UI registers itself here from
// the executable's main() before the command line is parsed:
//
//     natter::app::register_chat_front_end({&natter::ui::add_chat_options, &natter::ui::run_chat});
//
// With nothing registered, `natter chat` always uses the line-mode chat (app/line_chat.h).
#include <functional>

namespace CLI {
class App;
}

namespace natter {
class Session;
}

namespace natter::app {

struct ChatFrontEnd {
    // Adds the front end's own options (e.g. --color) to the `natter chat` subcommand.
    // Called once while the subcommand is being set up; may be empty.
    std::function<void(CLI::App& chat_command)> add_options;
    // Runs the interactive chat on a ready session until the user quits; returns the exit
    // code. It owns the terminal, drains the session's events, and calls session.autosave()
    // before returning (the line chat does the same at end of input).
    std::function<int(Session& session)> run;
};

void register_chat_front_end(ChatFrontEnd front_end);
// The registered front end, or nullptr.
const ChatFrontEnd* chat_front_end();

}  // namespace natter::app
