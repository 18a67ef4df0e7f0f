// The session store: saved chats (written by Session::save) listed, found by name, prefix or
// path, searched and deleted.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "core/error.h"
#include "session/session_store.h"
#include "unit/error_text.h"
#include "unit/session/session_test_util.h"

namespace natter {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::TempDir;

class Store : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = test::load_once(test::stories_path());
        ASSERT_TRUE(model_);
    }
    // A chat of the given user messages (each with its reply), saved as dir/<name>.json.
    fs::path save_chat(const std::string& name, const std::vector<std::string>& user_texts) {
        SessionOptions o = test::greedy_options(3);
        o.template_name = "chatml";
        o.autosave_dir = dir_.path / "unused";
        Session s(model_, o);
        for (const auto& text : user_texts) test::say(s, text);
        const fs::path path = dir_.path / (name + ".json");
        s.save(path);
        // Message times have millisecond precision: keep the chats apart.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return path;
    }
    void write(const std::string& file, const std::string& text) { std::ofstream(dir_.path / file) << text; }

    TempDir dir_;
    std::shared_ptr<const Model> model_;
};

TEST_F(Store, ListsTranscriptsMostRecentFirstAndReportsBrokenOnes) {
    save_chat("alpha", {"Hello there"});
    save_chat("beta", {"Tell me about Cats", "and dogs"});
    write("broken.json", "{ not json");
    write("notes.txt", "not a chat");
    const StoreListing listing = SessionStore(dir_.path).list();
    ASSERT_EQ(listing.chats.size(), 2u);
    EXPECT_EQ(listing.chats[0].name, "beta");
    EXPECT_EQ(listing.chats[0].path, dir_.path / "beta.json");
    EXPECT_EQ(listing.chats[0].transcript.messages.size(), 4u);
    EXPECT_EQ(listing.chats[0].first_user_text(), "Tell me about Cats");
    EXPECT_EQ(listing.chats[1].name, "alpha");
    EXPECT_EQ(listing.chats[1].transcript.messages.size(), 2u);
    EXPECT_GT(listing.chats[0].last_active, listing.chats[1].last_active);
    ASSERT_EQ(listing.problems.size(), 1u);
    EXPECT_NE(listing.problems[0].find("broken.json"), std::string::npos) << listing.problems[0];
}

TEST_F(Store, AMissingFolderHoldsNoChats) {
    const SessionStore store(dir_.path / "nowhere");
    EXPECT_TRUE(store.list().chats.empty());
    EXPECT_EQ(store.latest(), fs::path{});
}

TEST_F(Store, LatestIsTheChatWithTheLastMessageNotTheNewestFile) {
    save_chat("older", {"first"});
    const fs::path newer = save_chat("newer", {"second"});
    // Touching the older file (a copy, a backup) does not make it the latest chat.
    fs::last_write_time(dir_.path / "older.json", fs::file_time_type::clock::now() + std::chrono::hours(1));
    EXPECT_EQ(SessionStore(dir_.path).latest(), newer);
}

TEST_F(Store, FindsByNameWithOrWithoutJsonByUniquePrefixAndByPath) {
    const fs::path alpha = save_chat("alpha", {"a"});
    save_chat("alpine", {"b"});
    const fs::path beta = save_chat("beta", {"c"});
    const SessionStore store(dir_.path);
    EXPECT_EQ(store.find("alpha"), alpha);
    EXPECT_EQ(store.find("alpha.json"), alpha);
    EXPECT_EQ(store.find("b"), beta);  // a unique prefix
    EXPECT_EQ(store.find("alph"), alpha);
    // A path is taken as it is, inside the folder or not.
    TempDir other;
    const fs::path elsewhere = other.path / "kept.json";
    fs::copy_file(beta, elsewhere);
    EXPECT_EQ(store.find(elsewhere.string()), elsewhere);
    EXPECT_EQ(store.read(elsewhere.string()).transcript.messages.size(), 2u);
}

TEST_F(Store, NoMatchOrSeveralIsOneSentence) {
    save_chat("alpha", {"a"});
    save_chat("alpine", {"b"});
    const SessionStore store(dir_.path);
    EXPECT_EQ(error_of([&] { store.find("al"); }), "\"al\" matches 2 saved chats (alpha, alpine); give more of the name.");
    EXPECT_EQ(error_of([&] { store.find("zeta"); }),
              "There is no saved chat named \"zeta\" in " + dir_.path.string() + ".");
    EXPECT_EQ(error_of([&] { store.find("/no/such/chat.json"); }), "There is no saved chat at /no/such/chat.json.");
}

TEST_F(Store, SearchFindsMessagesIgnoringCase) {
    save_chat("alpha", {"Hello there"});
    save_chat("beta", {"Tell me about Cats"});
    const StoreListing listing = SessionStore(dir_.path).list();
    const std::vector<SearchHit> hits = SessionStore::search(listing, "cATs");
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].chat->name, "beta");
    EXPECT_EQ(hits[0].message, 0u);
    EXPECT_EQ(hits[0].offset, std::string("Tell me about ").size());
    EXPECT_TRUE(SessionStore::search(listing, "giraffe").empty());
}

TEST_F(Store, RemoveDeletesTheChatItFindsAndNothingElse) {
    const fs::path alpha = save_chat("alpha", {"a"});
    save_chat("beta", {"b"});
    write("notes.json", "{\"shopping\": [\"milk\"]}");
    const SessionStore store(dir_.path);
    EXPECT_EQ(store.remove("alp"), alpha);
    EXPECT_FALSE(fs::exists(alpha));
    EXPECT_TRUE(fs::exists(dir_.path / "beta.json"));
    // A JSON file that is no transcript is not deleted.
    EXPECT_THROW(store.remove("notes"), Error);
    EXPECT_TRUE(fs::exists(dir_.path / "notes.json"));
}

TEST_F(Store, SessionLoadReadsTheChatTheStoreFinds) {
    save_chat("alpha", {"Hello there", "Once"});
    SessionOptions o = test::greedy_options(3);
    o.template_name = "chatml";
    o.autosave_dir = dir_.path / "autosaves";
    Session s(model_, o);
    const SessionStore store(dir_.path);
    s.load(store.find("alp"));
    const auto msgs = s.messages();
    const auto stored = store.read("alpha").transcript.messages;
    ASSERT_EQ(msgs.size(), stored.size());
    for (std::size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(msgs[i].text, stored[i].text);
    // It goes on in a file of its own.
    test::say(s, "More");
    const fs::path saved = s.autosave();
    EXPECT_EQ(saved.parent_path(), dir_.path / "autosaves");
    EXPECT_EQ(store.read("alpha").transcript.messages.size(), 4u);  // the original is untouched
}

}  // namespace
}  // namespace natter
