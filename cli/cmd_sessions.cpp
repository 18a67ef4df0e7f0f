// `natter sessions`: the saved chats in the sessions folder (session/session_store.h does
// the work): list, search, show, export as Markdown, delete.
#include <CLI/CLI.hpp>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "session/session_store.h"
#include "session/transcript.h"
#include "ui/text.h"

namespace natter::cli {

namespace {

struct SessionsOptions {
    std::string name;
    std::string text;
    std::string output;
};

// Columns to fit a line in: the terminal's, else $COLUMNS, else 80.
int line_width() {
    winsize ws{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) {
        const int n = std::atoi(c);
        if (n > 0) return n;
    }
    return 80;
}

std::string local_time(WallClock::time_point t) { return format_local_time(t, "%Y-%m-%d %H:%M"); }

// One line of text safe for the terminal: newlines and tabs become spaces.
std::string one_line(std::string_view text) {
    std::string s(text);
    for (char& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return ui::sanitize(s);
}

std::string fit(const std::string& head, std::string_view text) {
    const int room = line_width() - ui::display_width(head);
    return room <= 1 ? head : head + ui::truncate_to_width(one_line(text), room);
}

void warn_problems(const StoreListing& listing) {
    for (const std::string& p : listing.problems) std::cerr << "natter: warning: skipped " << p << "\n";
}

void list_chats(const SessionStore& store) {
    const StoreListing listing = store.list();
    warn_problems(listing);
    if (listing.chats.empty()) {
        std::cerr << "natter: no saved chats in " << store.dir().string() << "\n";
        return;
    }
    std::size_t name_width = 0;
    for (const StoredChat& c : listing.chats) name_width = std::max(name_width, c.name.size());
    for (const StoredChat& c : listing.chats) {
        const std::size_t n = c.transcript.messages.size();
        std::string head = c.name + std::string(name_width - c.name.size(), ' ') + "  " + local_time(c.last_active) + "  ";
        std::string count = std::to_string(n) + (n == 1 ? " message" : " messages");
        head += count + std::string(count.size() < 12 ? 12 - count.size() : 0, ' ') + "  ";
        std::cout << fit(head, c.first_user_text()) << "\n";
    }
}

int search_chats(const SessionStore& store, const std::string& text) {
    const StoreListing listing = store.list();
    warn_problems(listing);
    const std::vector<SearchHit> hits = SessionStore::search(listing, text);
    if (hits.empty()) {
        std::cerr << "natter: no saved chat contains \"" << text << "\"\n";
        return 1;
    }
    for (const SearchHit& h : hits) {
        const Message& m = h.chat->transcript.messages[h.message];
        // Start a little before the match, at a character boundary, so that it shows.
        std::size_t from = h.offset > 20 ? h.offset - 20 : 0;
        while (from > 0 && (static_cast<unsigned char>(m.text[from]) & 0xC0) == 0x80) --from;
        const std::string head = h.chat->name + "  " + std::string(role_name(m.role)) + ": " + (from > 0 ? "…" : "");
        std::cout << fit(head, std::string_view(m.text).substr(from)) << "\n";
    }
    return 0;
}

void show_chat(const SessionStore& store, const std::string& name) {
    const StoredChat c = store.read(name);
    const Transcript& t = c.transcript;
    std::cout << c.name << "  (" << c.path.string() << ")\n";
    std::cout << "model " << (t.model_name.empty() ? "?" : t.model_name);
    if (!t.quant.empty()) std::cout << " (" << t.quant << ")";
    std::cout << ", template " << (t.template_name.empty() ? "?" : t.template_name) << ", "
              << t.messages.size() << (t.messages.size() == 1 ? " message" : " messages") << ", last active "
              << local_time(c.last_active) << "\n";
    if (!t.system_prompt.empty()) std::cout << "\n[system]\n" << ui::sanitize(t.system_prompt) << "\n";
    for (const Message& m : t.messages) {
        std::cout << "\n[" << role_name(m.role) << (m.interrupted ? ", interrupted" : "") << "]\n"
                  << ui::sanitize(m.text) << "\n";
    }
}

void export_chat(const SessionStore& store, const std::string& name, const std::string& output) {
    const StoredChat c = store.read(name);
    const std::string markdown = transcript_to_markdown(c.transcript);
    if (output.empty()) {
        std::cout << markdown;
        return;
    }
    std::ofstream out(output, std::ios::binary);
    out << markdown;
    out.close();
    if (!out) throw Error("Cannot write " + output + ".");
    std::cerr << "natter: exported " << c.name << " to " << output << "\n";
}

}  // namespace

void add_sessions_command(CLI::App& app) {
    auto o = std::make_shared<SessionsOptions>();
    CLI::App* cmd = app.add_subcommand("sessions", "The saved chats: list (the default), search, show, export, delete");
    cmd->require_subcommand(0, 1);
    CLI::App* list = cmd->add_subcommand("list", "One line per saved chat, the most recent first");
    CLI::App* search = cmd->add_subcommand("search", "The messages that contain TEXT (ignoring case)");
    search->add_option("text", o->text, "Text to look for")->required();
    CLI::App* show = cmd->add_subcommand("show", "Print a saved chat");
    show->add_option("name", o->name, "NAME (or a unique prefix) in the sessions folder, or a PATH")->required();
    CLI::App* exp = cmd->add_subcommand("export", "A saved chat as Markdown, on stdout or into a file");
    exp->add_option("name", o->name, "NAME (or a unique prefix) in the sessions folder, or a PATH")->required();
    exp->add_option("-o,--output", o->output, "Write the Markdown to this file");
    CLI::App* del = cmd->add_subcommand("delete", "Delete a saved chat");
    del->add_option("name", o->name, "NAME (or a unique prefix) in the sessions folder, or a PATH")->required();

    list->callback([]() { list_chats(SessionStore()); });
    search->callback([o]() {
        if (const int code = search_chats(SessionStore(), o->text); code != 0) throw CLI::RuntimeError(code);
    });
    show->callback([o]() { show_chat(SessionStore(), o->name); });
    exp->callback([o]() { export_chat(SessionStore(), o->name, o->output); });
    del->callback([o]() {
        const std::filesystem::path path = SessionStore().remove(o->name);
        std::cout << "deleted " << path.string() << "\n";
    });
    cmd->callback([cmd]() {
        if (cmd->get_subcommands().empty()) list_chats(SessionStore());
    });
}

}  // namespace natter::cli
