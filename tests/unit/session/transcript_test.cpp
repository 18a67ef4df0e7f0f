// Transcripts: JSON round trips, clear errors for malformed files, Markdown, atomic writes
// that survive a kill at any moment.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "session/session_impl.h"
#include "session/transcript.h"
#include "core/error.h"
#include "session_test_util.h"

namespace natter {
namespace {

using test::TempDir;

WallClock::time_point at_ms(int64_t ms) { return WallClock::time_point(std::chrono::milliseconds(ms)); }

Transcript sample_transcript() {
    Transcript t;
    t.model_name = "Tiny";
    t.model_path = "/m/tiny.gguf";
    t.quant = "Q4_1";
    t.template_name = "chatml";
    t.system_prompt = "Be brief.";
    t.settings.sampling.temperature = 0.25f;
    t.settings.sampling.top_k = 7;
    t.settings.sampling.seed = 1234567890123ULL;
    t.settings.max_tokens = 99;
    t.keep = 12;
    t.reverse_prompts = {"User:"};
    t.created = at_ms(1714566605123);
    Message u;
    u.role = Role::User;
    u.text = "Hi \"there\"\n日本語 ✓";
    u.created = u.finished = at_ms(1714566606000);
    Message a;
    a.role = Role::Assistant;
    a.text = "Hello!";
    a.created = at_ms(1714566606001);
    a.finished = at_ms(1714566607500);
    a.interrupted = true;
    a.stop_reason = StopReason::Cancelled;
    a.stats.prompt_tokens = 31;
    a.stats.prompt_evaluated = 20;
    a.stats.completion_tokens = 4;
    a.stats.prompt_ms = 12.5;
    a.stats.ttft_ms = 30.25;
    a.stats.generation_ms = 500;
    t.messages = {u, a};
    return t;
}

TEST(Timestamp, FormatsAndParsesUtcWithMilliseconds) {
    EXPECT_EQ(format_timestamp(at_ms(1714566605123)), "2024-05-01T12:30:05.123Z");  // date -u -d @1714566605
    EXPECT_EQ(format_timestamp(at_ms(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(parse_timestamp("2024-05-01T12:30:05.123Z"), at_ms(1714566605123));
    EXPECT_FALSE(parse_timestamp("2024-05-01 12:30:05"));
    EXPECT_FALSE(parse_timestamp("2024-13-01T12:30:05.000Z"));
    EXPECT_FALSE(parse_timestamp("2024-05-01T12:30:05.000Zjunk"));
}

TEST(Transcript, JsonRoundTripKeepsEverything) {
    const Transcript t = sample_transcript();
    const Transcript r = transcript_from_json(transcript_to_json(t), "x.json");
    EXPECT_EQ(r.model_name, "Tiny");
    EXPECT_EQ(r.template_name, "chatml");
    EXPECT_EQ(r.system_prompt, "Be brief.");
    EXPECT_EQ(r.settings.sampling.temperature, 0.25f);
    EXPECT_EQ(r.settings.sampling.top_k, 7);
    EXPECT_EQ(r.settings.sampling.seed, 1234567890123ULL);
    EXPECT_EQ(r.settings.max_tokens, 99);
    EXPECT_EQ(r.keep, 12);
    EXPECT_EQ(r.reverse_prompts, std::vector<std::string>{"User:"});
    EXPECT_EQ(r.created, t.created);
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_EQ(r.messages[0].role, Role::User);
    EXPECT_EQ(r.messages[0].text, t.messages[0].text);
    EXPECT_EQ(r.messages[0].created, t.messages[0].created);
    const Message& a = r.messages[1];
    EXPECT_EQ(a.role, Role::Assistant);
    EXPECT_EQ(a.text, "Hello!");
    EXPECT_TRUE(a.interrupted);
    EXPECT_EQ(a.stop_reason, StopReason::Cancelled);
    EXPECT_EQ(a.finished, t.messages[1].finished);
    EXPECT_EQ(a.stats.prompt_tokens, 31);
    EXPECT_EQ(a.stats.prompt_evaluated, 20);
    EXPECT_EQ(a.stats.completion_tokens, 4);
    EXPECT_DOUBLE_EQ(a.stats.ttft_ms, 30.25);
    EXPECT_DOUBLE_EQ(a.stats.tokens_per_second(), 8.0);  // 4 tokens in 500 ms
}

TEST(Transcript, JsonFollowsTheDocumentedSchema) {
    const auto j = nlohmann::json::parse(transcript_to_json(sample_transcript()));
    EXPECT_EQ(j["format"], "natter-transcript");
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["messages"][0]["role"], "user");
    EXPECT_FALSE(j["messages"][0].contains("tokens"));  // counts belong to replies
    EXPECT_EQ(j["messages"][1]["tokens"]["completion"], 4);
    EXPECT_DOUBLE_EQ(j["messages"][1]["timing"]["tokens_per_second"].get<double>(), 8.0);
    EXPECT_EQ(j["messages"][1]["stop_reason"], "cancelled");
    EXPECT_EQ(j["settings"]["top_k"], 7);
    EXPECT_EQ(j["model"]["quant"], "Q4_1");
}

TEST(Transcript, MinimalFileLoads) {
    const auto t = transcript_from_json(
        R"({"format":"natter-transcript","version":1,"messages":[{"role":"user","text":"a"},{"role":"assistant","text":"b"}]})",
        "min.json");
    ASSERT_EQ(t.messages.size(), 2u);
    EXPECT_EQ(t.messages[1].text, "b");
}

void expect_error(const std::string& json, const std::string& fragment) {
    try {
        transcript_from_json(json, "bad.json");
        ADD_FAILURE() << "no error for " << json;
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("bad.json"), std::string::npos) << what;
        EXPECT_NE(what.find(fragment), std::string::npos) << what;
        EXPECT_EQ(what.find("json.exception"), std::string::npos) << "the library's own words: " << what;
    }
}

TEST(Transcript, MalformedFilesAreClearErrors) {
    expect_error("{\"format\": \"natter-transcript\", ", "not valid JSON");
    expect_error("[1,2]", "not a natter transcript");
    expect_error(R"({"format":"other","version":1,"messages":[]})", "not a natter transcript");
    expect_error(R"({"format":"natter-transcript","messages":[]})", "version");
    expect_error(R"({"format":"natter-transcript","version":7,"messages":[]})", "newer natter");
    expect_error(R"({"format":"natter-transcript","version":1})", "\"messages\" must be a list");
    expect_error(R"({"format":"natter-transcript","version":1,"messages":[{"role":"user"}]})", "message 1");
    expect_error(R"({"format":"natter-transcript","version":1,"messages":[{"role":"robot","text":"x"}]})", "robot");
    expect_error(R"({"format":"natter-transcript","version":1,"messages":[{"role":"user","text":5}]})", "\"text\" has the wrong type");
    expect_error(R"({"format":"natter-transcript","version":1,"settings":{"top_k":"many"},"messages":[]})", "top_k");
    expect_error(R"({"format":"natter-transcript","version":1,"messages":[{"role":"user","text":"x","created":"yesterday"}]})", "timestamp");
}

TEST(Transcript, MarkdownShowsTurnsAndStats) {
    const std::string md = transcript_to_markdown(sample_transcript());
    EXPECT_EQ(md.rfind("# Chat with Tiny\n", 0), 0u);
    EXPECT_NE(md.find("template chatml"), std::string::npos);
    EXPECT_NE(md.find("**System:** Be brief."), std::string::npos);
    const size_t user = md.find("### User\n\nHi \"there\"\n日本語 ✓\n");
    const size_t reply = md.find("### Assistant\n\nHello!\n");
    ASSERT_NE(user, std::string::npos);
    ASSERT_NE(reply, std::string::npos);
    EXPECT_LT(user, reply);
    EXPECT_NE(md.find("*4 tokens, 8.0 tokens/s, interrupted*"), std::string::npos);
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(AtomicWrite, ReplacesTheFileAndLeavesNoTemporaries) {
    TempDir dir;
    const auto path = dir.path / "t.json";
    write_file_atomically(path, "old");
    write_file_atomically(path, "new");
    EXPECT_EQ(read(path), "new");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path), {}), 1);
}

TEST(AtomicWrite, MissingFolderIsAClearError) {
    try {
        write_file_atomically("/nonexistent-natter-dir/t.json", "x");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-natter-dir/t.json"), std::string::npos);
    }
}

// A writer killed at random moments mid-save must leave the old file or a new one.
TEST(AtomicWrite, KilledWriterLeavesOldOrNewNeverTorn) {
    TempDir dir;
    const auto path = dir.path / "chat.json";
    Transcript big = sample_transcript();
    for (int i = 0; i < 4000; ++i) big.messages.push_back(big.messages[i % 2]);  // ~0.7 MB of JSON
    write_file_atomically(path, transcript_to_json(sample_transcript()));  // the "old" file
    int killed_mid_save = 0;  // rounds whose kill left a temporary file: the test had teeth
    for (int round = 0; round < 8; ++round) {
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            // Serialized up front, so that the child spends its time inside the save.
            std::string versions[2];
            for (int v = 0; v < 2; ++v) {
                big.system_prompt = "version " + std::to_string(v);
                versions[v] = transcript_to_json(big);
            }
            for (int gen = 0;; ++gen) {
                write_file_atomically(path, versions[gen % 2]);
                if (gen == 0) (void)!write(ready[1], "x", 1);
            }
        }
        char byte;
        ASSERT_EQ(::read(ready[0], &byte, 1), 1);  // the first new file is in place
        close(ready[0]);
        close(ready[1]);
        usleep(1000 + round * 1700);
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        const Transcript t = transcript_from_json(read(path), path.string());  // throws if torn
        EXPECT_EQ(t.messages.size(), big.messages.size());
        for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
            if (entry.path() == path) continue;
            ++killed_mid_save;
            std::filesystem::remove(entry.path());
        }
    }
    EXPECT_GT(killed_mid_save, 0);
}

}  // namespace
}  // namespace natter
