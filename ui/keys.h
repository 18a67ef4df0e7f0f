#pragma once
// The one table of key bindings. The key handler looks keys up here, and the F1 help
// and the man page are printed from it, so the three can never disagree.
#include <optional>
#include <string>
#include <vector>

#include "session/session.h"

namespace natter::ui {

enum class Action {
    None,  // handled by readline (documented here, dispatched there)
    Help,
    Messages,   // every notice and error of this chat, in full
    Stats,      // show or hide each reply's numbers under it
    Interrupt,  // Ctrl-C
    PageUp,
    PageDown,
    Top,     // Home with an empty input line
    Bottom,  // End with an empty input line
    ScrollUp,
    ScrollDown,
    NextTemplate,
    PrevTemplate,
    TempDown,
    TempUp,
    TopPDown,
    TopPUp,
    TopKDown,
    TopKUp,
    RepeatDown,
    RepeatUp,
    Redraw,
    Suspend,
};

struct KeyBinding {
    std::vector<int> codes;  // ncurses key codes (KEY_F(1), 3 for Ctrl-C, ...); empty: readline's
    std::string keys;        // as written in the help, e.g. "F3 / F4"
    Action action = Action::None;
    std::string help;        // what it does, one line
};

const std::vector<KeyBinding>& key_bindings();
// The action bound to an ncurses key code, if any.
std::optional<Action> action_for_key(int code);

// The live-adjustment keys: the settings one step down or up, kept in range (temperature
// 0..2 by 0.1, top-p 0..1 by 0.05, top-k 0..200 by 5 (0: off), repeat penalty 1..2 by 0.05).
ChatSettings adjust(const ChatSettings& settings, Action action);

// The template after (step 1) or before (step -1) `current` in `names`, wrapping around.
std::string cycle_template(const std::vector<std::string>& names, const std::string& current, int step);

}  // namespace natter::ui
