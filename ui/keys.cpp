// The key binding table and the live-adjustment arithmetic behind it.
#include "ui/keys.h"

#include <curses.h>

#include <algorithm>
#include <cmath>

namespace natter::ui {

const std::vector<KeyBinding>& key_bindings() {
    static const std::vector<KeyBinding> table = {
        {{}, "Enter", Action::None, "send the message (a line ending in \\ continues it on a new line); on an empty line after a reply that failed, try it again"},
        {{}, "Alt-Enter", Action::None, "insert a newline into the message"},
        {{}, "Up / Down", Action::None, "previous / next line of the input history"},
        {{}, "Ctrl-R", Action::None, "search the input history backwards"},
        {{}, "Tab", Action::None, "complete a slash command"},
        {{}, "Ctrl-D", Action::None, "quit, on an empty line (the chat is saved first)"},
        {{3}, "Ctrl-C", Action::Interrupt, "stop the reply and keep what it has said; at an empty prompt, say how to quit"},
        {{KEY_F(1)}, "F1", Action::Help, "show this help (every key and command)"},
        {{KEY_F(11)}, "F11", Action::Stats, "show or hide each reply's numbers under it (tokens, tokens/s, first token, why it stopped)"},
        {{KEY_F(12)}, "F12", Action::Messages, "show every message of this chat in full (the line above the status line shows one)"},
        {{KEY_PPAGE}, "PgUp", Action::PageUp, "scroll the conversation up a page"},
        {{KEY_NPAGE}, "PgDn", Action::PageDown, "scroll the conversation down a page"},
        {{KEY_HOME}, "Home", Action::Top, "scroll to the start of the conversation (with an empty input line)"},
        {{KEY_END}, "End", Action::Bottom, "scroll to the newest text and follow it (with an empty input line)"},
        {{KEY_SR}, "Shift-Up", Action::ScrollUp, "scroll up three rows (also the mouse wheel)"},
        {{KEY_SF}, "Shift-Down", Action::ScrollDown, "scroll down three rows (also the mouse wheel)"},
        {{KEY_F(2)}, "F2", Action::NextTemplate, "switch to the next chat template"},
        {{KEY_F(14)}, "Shift-F2", Action::PrevTemplate, "switch to the previous chat template"},
        {{KEY_F(3)}, "F3", Action::TempDown, "temperature down by 0.1"},
        {{KEY_F(4)}, "F4", Action::TempUp, "temperature up by 0.1"},
        {{KEY_F(5)}, "F5", Action::TopPDown, "top-p down by 0.05"},
        {{KEY_F(6)}, "F6", Action::TopPUp, "top-p up by 0.05"},
        {{KEY_F(7)}, "F7", Action::TopKDown, "top-k down by 5 (0 turns it off)"},
        {{KEY_F(8)}, "F8", Action::TopKUp, "top-k up by 5"},
        {{KEY_F(9)}, "F9", Action::RepeatDown, "repeat penalty down by 0.05"},
        {{KEY_F(10)}, "F10", Action::RepeatUp, "repeat penalty up by 0.05"},
        {{12}, "Ctrl-L", Action::Redraw, "redraw the screen"},
        {{26}, "Ctrl-Z", Action::Suspend, "suspend natter (fg in the shell brings it back)"},
    };
    return table;
}

std::optional<Action> action_for_key(int code) {
    for (const KeyBinding& b : key_bindings()) {
        if (std::find(b.codes.begin(), b.codes.end(), code) != b.codes.end()) return b.action;
    }
    return std::nullopt;
}

namespace {

// One step of `step` from `value` in direction `dir`, landing on the grid of multiples
// of `step` (0.75 up by 0.1 gives 0.8, not 0.85), clamped to [lo, hi].
float step_on_grid(float value, float step, int dir, float lo, float hi) {
    const double units = static_cast<double>(value) / step;
    const double next = dir > 0 ? std::floor(units + 1e-6) + 1 : std::ceil(units - 1e-6) - 1;
    return static_cast<float>(std::clamp(next * step, static_cast<double>(lo), static_cast<double>(hi)));
}

}  // namespace

ChatSettings adjust(const ChatSettings& settings, Action action) {
    ChatSettings s = settings;
    SamplingParams& p = s.sampling;
    switch (action) {
        case Action::TempDown: p.temperature = step_on_grid(p.temperature, 0.1f, -1, 0.0f, 2.0f); break;
        case Action::TempUp: p.temperature = step_on_grid(p.temperature, 0.1f, 1, 0.0f, 2.0f); break;
        case Action::TopPDown: p.top_p = step_on_grid(p.top_p, 0.05f, -1, 0.0f, 1.0f); break;
        case Action::TopPUp: p.top_p = step_on_grid(p.top_p, 0.05f, 1, 0.0f, 1.0f); break;
        case Action::TopKDown: p.top_k = static_cast<int>(step_on_grid(std::max(p.top_k, 0), 5, -1, 0, 200)); break;
        case Action::TopKUp: p.top_k = static_cast<int>(step_on_grid(std::max(p.top_k, 0), 5, 1, 0, 200)); break;
        case Action::RepeatDown: p.repeat_penalty = step_on_grid(p.repeat_penalty, 0.05f, -1, 1.0f, 2.0f); break;
        case Action::RepeatUp: p.repeat_penalty = step_on_grid(p.repeat_penalty, 0.05f, 1, 1.0f, 2.0f); break;
        default: break;
    }
    return s;
}

std::string cycle_template(const std::vector<std::string>& names, const std::string& current, int step) {
    if (names.empty()) return current;
    const auto it = std::find(names.begin(), names.end(), current);
    const long n = static_cast<long>(names.size());
    if (it == names.end()) return step >= 0 ? names.front() : names.back();
    const long i = ((it - names.begin()) + step % n + n) % n;
    return names[static_cast<std::size_t>(i)];
}

}  // namespace natter::ui
