// Template files: parsing and its error messages, the user's template directory
// (a bad file is reported by name while the rest load), and detection of the
// template family from real tokenizer.chat_template strings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "prompts/template.h"

namespace natter {
namespace {

namespace fs = std::filesystem;

// The message of the Error that parsing `json` as file `source` throws ("" if none).
std::string parse_error(const std::string& json, const std::string& source = "mine.json") {
    try {
        ChatTemplate::from_json(json, source);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(TemplateJson, MinimalFileGetsSensibleDefaults) {
    const auto t = ChatTemplate::from_json(
        R"({"roles": {"user": {"prefix": "Q: ", "suffix": "\n"}, "assistant": {"prefix": "A: "}}})",
        "/home/me/.config/natter/templates/qa.json");
    EXPECT_EQ(t.name, "qa");  // from the file name
    EXPECT_EQ(t.generation_prompt, "A: ");
    EXPECT_TRUE(t.tokenizer_adds_bos);
    EXPECT_FALSE(t.system_in_first_user);
    EXPECT_TRUE(t.stop.empty());
    const std::vector<ChatMessage> messages = {{"system", "S"}, {"user", "hi"}, {"assistant", "yo"}, {"user", "?"}};
    // No system role format: the system text goes in bare.
    EXPECT_EQ(t.render(messages, true), "SQ: hi\nA: yoQ: ?\nA: ");
}

TEST(TemplateJson, BosTextImpliesTheTokenizerMustNotAddAnother) {
    const auto t = ChatTemplate::from_json(
        R"({"bos_text": "<s>", "roles": {"user": {}, "assistant": {}}})", "b.json");
    EXPECT_FALSE(t.tokenizer_adds_bos);
    EXPECT_EQ(t.render(std::vector<ChatMessage>{{"user", "x"}}, false), "<s>x");
}

TEST(TemplateJson, ProblemsAreNamedWithTheFile) {
    const struct {
        const char* json;
        const char* problem;
    } cases[] = {
        {R"({"roles": )", "not valid JSON"},
        {R"([1, 2])", "must be a JSON object"},
        {R"({"name": "x"})", "missing \"roles\""},
        {R"({"roles": {"assistant": {}}})", "missing \"roles.user\""},
        {R"({"roles": {"user": {"sufix": "x"}, "assistant": {}}})", "unknown key \"roles.user.sufix\""},
        {R"({"roles": {"user": {}, "assistant": {}, "tool": {}}})", "unknown key \"roles.tool\""},
        {R"({"role": {}})", "unknown key \"role\""},
        {R"({"roles": {"user": {"prefix": 3}, "assistant": {}}})", "\"roles.user.prefix\" must be a string"},
        {R"({"roles": {"user": [], "assistant": {}}})", "\"roles.user\" must be a JSON object"},
        {R"({"stop": "</s>", "roles": {"user": {}, "assistant": {}}})", "\"stop\" must be a list of strings"},
        {R"({"stop": [""], "roles": {"user": {}, "assistant": {}}})", "non-empty strings"},
        {R"({"trim_content": "yes", "roles": {"user": {}, "assistant": {}}})", "\"trim_content\" must be true or false"},
        {R"({"schema": 2, "roles": {"user": {}, "assistant": {}}})", "schema 2"},
        {R"({"name": "my template", "roles": {"user": {}, "assistant": {}}})", "\"name\" must be one word"},
    };
    for (const auto& tc : cases) {
        const std::string message = parse_error(tc.json);
        EXPECT_NE(message.find("mine.json"), std::string::npos) << tc.json << " -> " << message;
        EXPECT_NE(message.find(tc.problem), std::string::npos) << tc.json << " -> " << message;
    }
}

// ---- the user's directory ----

class UserTemplates : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("natter-templates-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary) << text;
    }

    fs::path dir_;
};

TEST_F(UserTemplates, MalformedFilesAreReportedByNameAndTheRestLoad) {
    write("good.json", R"({"description": "mine", "roles": {"user": {"prefix": "U:"}, "assistant": {"prefix": "A:"}}})");
    write("broken.json", R"({"roles": {"user": )");
    write("typo.json", R"({"roles": {"user": {"prefx": "U:"}, "assistant": {}}})");
    write("chatml.json", R"({"description": "my chatml", "roles": {"user": {}, "assistant": {}}})");
    write("other.json", R"({"name": "good", "roles": {"user": {}, "assistant": {}}})");
    write("notes.txt", "not a template");

    TemplateRegistry registry;
    registry.load_directory(dir_);

    ASSERT_NE(registry.find("good"), nullptr);
    EXPECT_EQ(registry.find("good")->description, "mine");  // the first file keeps the name
    EXPECT_EQ(registry.get("chatml").description, "my chatml");  // user file replaces the built-in
    EXPECT_NE(registry.find("llama-3"), nullptr);  // the other built-ins are untouched
    EXPECT_EQ(registry.find("broken"), nullptr);
    EXPECT_EQ(registry.find("typo"), nullptr);
    EXPECT_EQ(registry.find("notes"), nullptr);

    const auto& warnings = registry.warnings();
    ASSERT_EQ(warnings.size(), 3u);
    // In file-name order: broken.json, (chatml, good,) other.json, typo.json.
    EXPECT_NE(warnings[0].find("broken.json"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("not valid JSON"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[1].find("other.json"), std::string::npos) << warnings[1];
    EXPECT_NE(warnings[1].find("already taken by"), std::string::npos) << warnings[1];
    EXPECT_NE(warnings[2].find("typo.json"), std::string::npos) << warnings[2];
    EXPECT_NE(warnings[2].find("roles.user.prefx"), std::string::npos) << warnings[2];
}

TEST_F(UserTemplates, MissingDirectoryIsNotAProblem) {
    TemplateRegistry registry;
    registry.load_directory(dir_ / "does-not-exist");
    EXPECT_TRUE(registry.warnings().empty());
    EXPECT_EQ(registry.names(), TemplateRegistry().names());
}

TEST(TemplateRegistry, UnknownNameListsTheKnownOnes) {
    TemplateRegistry registry;
    EXPECT_EQ(registry.find("nope"), nullptr);
    try {
        registry.get("nope");
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("\"nope\""), std::string::npos);
        EXPECT_NE(message.find("chatml"), std::string::npos);
    }
}

// ---- detection on real chat_template strings ----

TEST(TemplateDetect, RealChatTemplates) {
    std::ifstream in(fs::path(NATTER_REFERENCE_DIR) / "template_expectations.json");
    const auto json = nlohmann::json::parse(in);
    const TemplateRegistry registry;
    int known = 0;
    for (const auto& c : json.at("detection")) {
        const auto detected = TemplateRegistry::detect(c.at("chat_template").get<std::string>());
        const std::string source = c.at("source");
        if (c.at("expected").is_null()) {
            EXPECT_EQ(detected, std::nullopt) << source << " detected as " << detected.value_or("");
        } else {
            EXPECT_EQ(detected, c.at("expected").get<std::string>()) << source;
            EXPECT_NE(registry.find(c.at("expected").get<std::string>()), nullptr) << source;
            ++known;
        }
    }
    EXPECT_GE(known, 10);
}

}  // namespace
}  // namespace natter
