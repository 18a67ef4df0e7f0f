#pragma once
// The input history, kept across sessions in $XDG_DATA_HOME/natter/history (else
// ~/.local/share/natter/history). Entries may span lines (Alt-Enter, pastes): the file
// carries readline's timestamp lines, which is what lets multi-line entries survive.
#include <filesystem>
#include <string>

namespace natter::ui {

// Replaces readline's history list with the file's (a missing file is an empty history).
void load_history(const std::filesystem::path& file);
// Appends an entry with its timestamp (the timestamp lines are what keep a multi-line
// entry in one piece in the file).
void add_to_history(const std::string& entry);
// Writes the history list (its last `keep` entries). Failures are ignored: losing the
// history must never stop the chat from quitting.
void save_history(const std::filesystem::path& file, int keep = 2000);

}  // namespace natter::ui
