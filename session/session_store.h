#pragma once
// The saved chats in the sessions folder (paths::sessions_dir(): autosaves and /save without
// a name): list them, find one by name, prefix or path, search their texts, delete one.
// Reading goes through read_transcript (transcript.h), the same path Session::load takes.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "session/session.h"
#include "session/transcript.h"

namespace natter {

struct StoredChat {
    std::filesystem::path path;
    std::string name;  // the file name without ".json"
    // When the chat was last active: its last message's time (when a reply finished, else when
    // the message was sent); the file's modification time if no message has a time.
    WallClock::time_point last_active{};
    Transcript transcript;
    // The first user message, "" if none.
    std::string first_user_text() const;
};

struct StoreListing {
    std::vector<StoredChat> chats;      // newest (by last_active) first
    std::vector<std::string> problems;  // "<file>: <problem>" for files that did not read
};

// A message that contains the searched text.
struct SearchHit {
    const StoredChat* chat = nullptr;
    std::size_t message = 0;  // index into chat->transcript.messages
    std::size_t offset = 0;   // byte offset of the match in the message's text
};

class SessionStore {
public:
    // empty: paths::sessions_dir()
    explicit SessionStore(std::filesystem::path dir = {});
    const std::filesystem::path& dir() const { return dir_; }

    // Every *.json file in the folder that reads as a transcript (a missing folder: none).
    StoreListing list() const;
    // The most recently active chat's file; "" when the folder holds none.
    std::filesystem::path latest() const;
    // A chat by NAME (a file in the folder, with or without ".json", or a unique prefix of one)
    // or by PATH (anything with a '/', or an existing file outside the folder). Throws
    // natter::Error in one sentence for no match or several.
    std::filesystem::path find(std::string_view name_or_path) const;
    // find() and read_transcript().
    StoredChat read(std::string_view name_or_path) const;
    // Messages whose text contains `text`, ignoring ASCII case, in list order.
    static std::vector<SearchHit> search(const StoreListing& listing, std::string_view text);
    // Deletes the chat find() names (after checking it reads as a transcript); returns its path.
    std::filesystem::path remove(std::string_view name_or_path) const;

private:
    std::filesystem::path dir_;
};

// Case-insensitive (ASCII) find; npos when absent.
std::size_t find_ignoring_case(std::string_view haystack, std::string_view needle);

}  // namespace natter
