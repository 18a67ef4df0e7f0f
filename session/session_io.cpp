// Transcripts of a session on disk: save, export, load, autosave, all written atomically.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/paths.h"
#include "session/session_impl.h"
#include "session/transcript.h"
#include "core/error.h"

namespace natter {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const char* what) {
    throw Error("Cannot " + std::string(what) + " " + path.string() + ": " + std::strerror(errno) + ".");
}

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail(path, "write");
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void fsync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;  // the rename happened; only its durability is at stake
    ::fsync(fd);
    ::close(fd);
}

std::string read_whole_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path.string() + " is a directory, not a saved chat.");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("Cannot read " + path.string() + ": " + std::strerror(errno) + ".");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// "2024-05-01_12-30-05" in local time, for autosave file names.
std::string file_stamp(WallClock::time_point t) { return format_local_time(t, "%Y-%m-%d_%H-%M-%S"); }

Transcript snapshot(const Session& session, const Session::Impl& s, uint64_t* revision = nullptr) {
    Transcript t;
    t.model_name = session.model_name();
    t.model_path = session.model_path();  // remote: the base URL, which never holds a key (openai/http_client.h)
    t.quant = session.quant_type();
    t.template_name = session.template_name();
    std::lock_guard lock(s.mutex);
    if (revision) *revision = s.revision;
    t.system_prompt = s.system_prompt;
    t.settings = s.settings;
    t.keep = s.keep;
    t.reverse_prompts = s.reverse_prompts;
    t.created = s.created;
    t.messages = s.messages;
    return t;
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view data) {
    static std::atomic<unsigned> counter{0};
    std::filesystem::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail(path, "write");
    try {
        write_all(fd, data, path);
        if (::fsync(fd) != 0) fail(path, "write");
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        fail(path, "write");
    }
    fsync_directory(path.parent_path());
}

std::string format_local_time(WallClock::time_point t, const char* format) {
    const std::time_t secs = WallClock::to_time_t(t);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[64];
    return std::strftime(buf, sizeof buf, format, &tm) ? buf : "";
}

Transcript read_transcript(const std::filesystem::path& path) {
    return transcript_from_json(read_whole_file(path), path.string());
}

void Session::save(const std::filesystem::path& path) const {
    uint64_t revision = 0;
    write_file_atomically(path, transcript_to_json(snapshot(*this, *impl_, &revision)));
    std::lock_guard lock(impl_->mutex);
    impl_->saved_revision = revision;  // changes made while writing stay unsaved
}

void Session::export_markdown(const std::filesystem::path& path) const {
    write_file_atomically(path, transcript_to_markdown(snapshot(*this, *impl_)));
}

void Session::save_as(const std::filesystem::path& path) const {
    const std::string ext = path.extension().string();
    if (ext == ".md" || ext == ".markdown") {
        export_markdown(path);
    } else {
        save(path);
    }
}

void Session::load(const std::filesystem::path& path) {
    // Parse completely before touching anything, so a bad file changes nothing.
    Transcript t = read_transcript(path);
    const ChatTemplate* tmpl = t.template_name.empty() ? nullptr : impl_->templates.find(t.template_name);
    std::string notice;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->require_idle();
        if (impl_->remote) {
            // the server's template, whatever the transcript was made with
        } else if (tmpl) {
            impl_->chat_template = tmpl;
        } else if (!t.template_name.empty()) {
            notice = "The transcript's template \"" + t.template_name + "\" is not available here; using " +
                     impl_->chat_template->name + ".";
        }
        for (auto& m : t.messages) m.in_context = true;
        impl_->messages = std::move(t.messages);
        impl_->system_prompt = std::move(t.system_prompt);
        impl_->settings = t.settings;
        impl_->keep = t.keep;
        impl_->reverse_prompts = std::move(t.reverse_prompts);
        impl_->first_kept = impl_->pinned = 0;
        impl_->trim_cache_to_conversation();
        impl_->saved_revision = impl_->revision;
        // The loaded chat goes on in an autosave file of its own: never over the file of the
        // chat it replaced, nor over the file it came from.
        impl_->autosave_path.clear();
    }
    if (!notice.empty()) {
        SessionEvent e;
        e.text = notice;
        impl_->events.push(std::move(e));
        impl_->events.notify();
    }
}

std::filesystem::path Session::autosave() {
    std::filesystem::path path;
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->revision == impl_->saved_revision || impl_->messages.empty()) return {};
        path = impl_->autosave_path;
    }
    if (path.empty()) {
        const auto dir = impl_->options.autosave_dir.empty() ? paths::sessions_dir() : impl_->options.autosave_dir;
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) throw Error("Cannot create " + dir.string() + ": " + ec.message() + ".");
        const std::string stem = file_stamp(impl_->created);
        path = dir / (stem + ".json");
        for (int i = 2; std::filesystem::exists(path); ++i) path = dir / (stem + "-" + std::to_string(i) + ".json");
    }
    save(path);
    std::lock_guard lock(impl_->mutex);
    impl_->autosave_path = path;
    return path;
}

bool Session::has_unsaved_changes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->revision != impl_->saved_revision && !impl_->messages.empty();
}


}  // namespace natter
