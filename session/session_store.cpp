// The saved chats in the sessions folder: list, find, search, delete.
#include "session/session_store.h"

#include <algorithm>
#include <cctype>
#include <system_error>

#include "core/error.h"
#include "core/paths.h"

namespace natter {

namespace fs = std::filesystem;

namespace {

WallClock::time_point file_time(const fs::path& path) {
    std::error_code ec;
    const auto t = fs::last_write_time(path, ec);
    if (ec) return {};
    return std::chrono::time_point_cast<WallClock::duration>(fs::file_time_type::clock::to_sys(t));
}

WallClock::time_point last_active(const Transcript& t, const fs::path& path) {
    WallClock::time_point last{};
    for (const Message& m : t.messages) last = std::max({last, m.created, m.finished});
    return last == WallClock::time_point{} ? file_time(path) : last;
}

StoredChat read_chat(const fs::path& path) {
    StoredChat c;
    c.path = path;
    c.name = path.extension() == ".json" ? path.stem().string() : path.filename().string();
    c.transcript = read_transcript(path);
    c.last_active = last_active(c.transcript, path);
    return c;
}

bool is_transcript_name(const fs::path& p) { return p.extension() == ".json"; }

// The *.json file names (stems) in the folder, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        if (it->is_regular_file(type_ec) && is_transcript_name(it->path())) names.push_back(it->path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

std::string StoredChat::first_user_text() const {
    for (const Message& m : transcript.messages) {
        if (m.role == Role::User) return m.text;
    }
    return "";
}

std::size_t find_ignoring_case(std::string_view haystack, std::string_view needle) {
    const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                                [&](char a, char b) { return lower(a) == lower(b); });
    return it == haystack.end() && !needle.empty() ? std::string_view::npos
                                                   : static_cast<std::size_t>(it - haystack.begin());
}

SessionStore::SessionStore(fs::path dir) : dir_(dir.empty() ? paths::sessions_dir() : std::move(dir)) {}

StoreListing SessionStore::list() const {
    StoreListing listing;
    for (const std::string& name : names_in(dir_)) {
        const fs::path path = dir_ / (name + ".json");
        try {
            listing.chats.push_back(read_chat(path));
        } catch (const Error& e) {
            listing.problems.push_back(e.what());
        }
    }
    std::stable_sort(listing.chats.begin(), listing.chats.end(),
                     [](const StoredChat& a, const StoredChat& b) { return a.last_active > b.last_active; });
    return listing;
}

fs::path SessionStore::latest() const {
    const StoreListing listing = list();
    return listing.chats.empty() ? fs::path{} : listing.chats.front().path;
}

fs::path SessionStore::find(std::string_view name_or_path) const {
    const std::string arg(name_or_path);
    if (arg.empty()) throw Error("Name a saved chat (see natter sessions list).");
    std::error_code ec;
    if (arg.find('/') != std::string::npos) {
        const fs::path path = paths::expand_home(arg);
        if (!fs::exists(path, ec)) throw Error("There is no saved chat at " + path.string() + ".");
        return path;
    }
    const std::vector<std::string> names = names_in(dir_);
    const std::string stem = fs::path(arg).extension() == ".json" ? fs::path(arg).stem().string() : arg;
    if (std::find(names.begin(), names.end(), stem) != names.end()) return dir_ / (stem + ".json");
    std::vector<std::string> matches;
    for (const std::string& n : names) {
        if (n.starts_with(stem)) matches.push_back(n);
    }
    if (matches.size() == 1) return dir_ / (matches.front() + ".json");
    if (matches.size() > 1) {
        std::string list;
        for (std::size_t i = 0; i < matches.size() && i < 5; ++i) list += (i ? ", " : "") + matches[i];
        if (matches.size() > 5) list += ", ...";
        throw Error("\"" + arg + "\" matches " + std::to_string(matches.size()) + " saved chats (" + list +
                    "); give more of the name.");
    }
    if (fs::is_regular_file(arg, ec)) return arg;  // a file in the current folder
    throw Error("There is no saved chat named \"" + arg + "\" in " + dir_.string() + ".");
}

StoredChat SessionStore::read(std::string_view name_or_path) const { return read_chat(find(name_or_path)); }

std::vector<SearchHit> SessionStore::search(const StoreListing& listing, std::string_view text) {
    std::vector<SearchHit> hits;
    for (const StoredChat& c : listing.chats) {
        for (std::size_t i = 0; i < c.transcript.messages.size(); ++i) {
            const std::size_t at = find_ignoring_case(c.transcript.messages[i].text, text);
            if (at != std::string_view::npos) hits.push_back(SearchHit{&c, i, at});
        }
    }
    return hits;
}

fs::path SessionStore::remove(std::string_view name_or_path) const {
    const fs::path path = find(name_or_path);
    read_transcript(path);  // never delete a file that is not a saved chat
    std::error_code ec;
    if (!fs::remove(path, ec) || ec) {
        throw Error("Cannot delete " + path.string() + ": " + (ec ? ec.message() : std::string("it is gone")) + ".");
    }
    return path;
}

}  // namespace natter
