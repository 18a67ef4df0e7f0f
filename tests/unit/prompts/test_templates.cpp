// Chat templates: the exact prompt text of every built-in template, compared with
// what the models' own Jinja templates produce (tests/reference/template_expectations.json,
// written by make_template_expectations.py) or, for formats without an official Jinja
// template, with text written out by hand from the format's description.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "prompts/builtin_templates.h"
#include "prompts/template.h"

namespace natter {
namespace {

using Json = nlohmann::json;

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const Json& expectations() {
    static const Json json =
        Json::parse(read_text(std::filesystem::path(NATTER_REFERENCE_DIR) / "template_expectations.json"));
    return json;
}

std::vector<ChatMessage> conversation(const std::string& name) {
    std::vector<ChatMessage> messages;
    for (const auto& m : expectations().at("conversations").at(name)) {
        messages.push_back({m.at("role"), m.at("content")});
    }
    return messages;
}

const TemplateRegistry& builtins() {
    static const TemplateRegistry registry;
    return registry;
}

std::string render(const std::string& template_name, const std::string& conversation_name,
                   bool add_generation_prompt = true) {
    return builtins().get(template_name).render(conversation(conversation_name), add_generation_prompt);
}

// ---- the built-in set ----

TEST(Templates, AllBuiltinsArePresent) {
    const auto names = builtins().names();
    for (const char* name : {"alpaca", "llama-2", "chatml", "llama-3", "vicuna", "zephyr", "mistral",
                             "raw", "phi-3", "gemma"}) {
        EXPECT_NE(builtins().find(name), nullptr) << name;
    }
    EXPECT_TRUE(builtins().warnings().empty());
}

TEST(Templates, EmbeddedCopiesAreTheSourceFilesByteForByte) {
    const std::filesystem::path dir = std::filesystem::path(NATTER_SOURCE_DIR) / "prompts";
    std::set<std::string> on_disk;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") on_disk.insert(entry.path().filename().string());
    }
    std::set<std::string> embedded;
    for (const auto& file : builtin_template_files()) {
        embedded.insert(std::string(file.name));
        EXPECT_EQ(file.text, read_text(dir / file.name)) << file.name;
        // The file name is the template's name, so users find the file to copy.
        const auto t = ChatTemplate::from_json(file.text, file.name);
        EXPECT_EQ(t.name + ".json", file.name);
    }
    EXPECT_EQ(embedded, on_disk);
}

// ---- rendering against the official Jinja templates ----

TEST(TemplateRender, MatchesTheModelsOwnJinjaTemplates) {
    std::set<std::string> covered;
    for (const auto& c : expectations().at("cases")) {
        const std::string name = c.at("template");
        const std::string conv = c.at("conversation");
        const bool gen = c.at("add_generation_prompt");
        EXPECT_EQ(render(name, conv, gen), c.at("expected").get<std::string>())
            << name << " vs " << c.at("source").get<std::string>() << ", conversation " << conv
            << ", add_generation_prompt " << gen;
        covered.insert(name);
    }
    EXPECT_EQ(covered, (std::set<std::string>{"chatml", "llama-2", "llama-3", "mistral", "zephyr",
                                              "gemma", "phi-3"}));
}

// A few of the official outputs spelled out, so the file shows the formats.
TEST(TemplateRender, TwoTurnsSpelledOut) {
    EXPECT_EQ(render("llama-2", "two_turns"),
              "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]"
              " Hi there! How can I help? </s><s>[INST] What is 2+2? [/INST]");
    EXPECT_EQ(render("chatml", "two_turns"),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nHello!<|im_end|>\n"
              "<|im_start|>assistant\nHi there! How can I help?<|im_end|>\n"
              "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
              "<|im_start|>assistant\n");
}

// ---- formats without an official Jinja template: written out by hand ----

TEST(TemplateRender, AlpacaByHand) {
    EXPECT_EQ(render("alpaca", "two_turns"),
              "You are a helpful assistant.\n\n"
              "### Instruction:\nHello!\n\n"
              "### Response:\nHi there! How can I help?\n\n"
              "### Instruction:\nWhat is 2+2?\n\n"
              "### Response:\n");
    // Without a system message the classic Alpaca preamble stands in.
    EXPECT_EQ(render("alpaca", "no_system"),
              "Below is an instruction that describes a task. Write a response that appropriately "
              "completes the request.\n\n"
              "### Instruction:\nHello!\n\n"
              "### Response:\nHi there! How can I help?\n\n"
              "### Instruction:\nWhat is 2+2?\n\n"
              "### Response:\n");
}

TEST(TemplateRender, VicunaByHand) {
    // FastChat's vicuna_v1.1: system, " ", then "USER: x ASSISTANT: y</s>" per exchange.
    EXPECT_EQ(render("vicuna", "two_turns"),
              "You are a helpful assistant. USER: Hello! ASSISTANT: Hi there! How can I help?</s>"
              "USER: What is 2+2? ASSISTANT:");
    EXPECT_EQ(render("vicuna", "no_system"),
              "A chat between a curious user and an artificial intelligence assistant. The assistant "
              "gives helpful, detailed, and polite answers to the user's questions. USER: Hello! "
              "ASSISTANT: Hi there! How can I help?</s>USER: What is 2+2? ASSISTANT:");
}

TEST(TemplateRender, RawAddsNothing) {
    const std::vector<ChatMessage> one = {{"user", "Once upon a time"}};
    EXPECT_EQ(builtins().get("raw").render(one, true), "Once upon a time");
    EXPECT_EQ(render("raw", "two_turns"),
              "You are a helpful assistant.Hello!Hi there! How can I help?What is 2+2?");
}

TEST(TemplateRender, SystemWithoutUserTurnStillReachesTheModel) {
    const std::vector<ChatMessage> only_system = {{"system", "Be brief."}};
    EXPECT_EQ(builtins().get("llama-2").render(only_system, true),
              "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n [/INST]");
    EXPECT_EQ(builtins().get("chatml").render(only_system, true),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>assistant\n");
}

TEST(TemplateRender, UnknownRoleIsAnError) {
    const std::vector<ChatMessage> messages = {{"tool", "42"}};
    EXPECT_THROW(builtins().get("chatml").render(messages, true), Error);
}

// The session evaluates only what is new each turn: the prompt that asked for a reply
// must be a prefix of the history once that reply is in it.
TEST(TemplateRender, PromptIsAPrefixOfTheHistoryWithTheReply) {
    const auto asked = conversation("two_turns");
    auto answered = asked;
    answered.push_back({"assistant", "4"});
    for (const auto& name : builtins().names()) {
        const auto& t = builtins().get(name);
        const std::string prompt = t.render(asked, true);
        const std::string history = t.render(answered, false);
        EXPECT_EQ(history.substr(0, prompt.size()), prompt) << name;
    }
}

// ---- BOS and stop strings ----

TEST(Templates, BosIsWrittenByTheTemplateOrLeftToTheTokenizer) {
    EXPECT_EQ(builtins().get("llama-3").bos_text, "<|begin_of_text|>");
    EXPECT_FALSE(builtins().get("llama-3").tokenizer_adds_bos);
    EXPECT_EQ(builtins().get("llama-2").bos_text, "");  // <s> opens each user turn instead
    EXPECT_FALSE(builtins().get("llama-2").tokenizer_adds_bos);
    EXPECT_FALSE(builtins().get("mistral").tokenizer_adds_bos);
    EXPECT_FALSE(builtins().get("gemma").tokenizer_adds_bos);
    for (const char* name : {"chatml", "zephyr", "phi-3", "vicuna", "alpaca", "raw"}) {
        EXPECT_TRUE(builtins().get(name).tokenizer_adds_bos) << name;
        EXPECT_EQ(builtins().get(name).bos_text, "") << name;
    }
}

TEST(Templates, StopStringsEndTheTurn) {
    const auto has_stop = [](const std::string& name, const std::string& stop) {
        const auto& s = builtins().get(name).stop;
        return std::find(s.begin(), s.end(), stop) != s.end();
    };
    EXPECT_TRUE(has_stop("chatml", "<|im_end|>"));
    EXPECT_TRUE(has_stop("llama-3", "<|eot_id|>"));
    EXPECT_TRUE(has_stop("gemma", "<end_of_turn>"));
    EXPECT_TRUE(has_stop("phi-3", "<|end|>"));
    EXPECT_TRUE(has_stop("alpaca", "### Instruction:"));
    EXPECT_TRUE(has_stop("vicuna", "USER:"));
    EXPECT_TRUE(builtins().get("raw").stop.empty());
}

// ---- the prompt files ----

TEST(PromptFiles, ClassicPromptsArePresent) {
    const std::filesystem::path dir = std::filesystem::path(NATTER_SOURCE_DIR) / "prompts";
    const std::string alpaca = read_text(dir / "alpaca.txt");
    EXPECT_NE(alpaca.find("instruction"), std::string::npos);
    const std::string bob = read_text(dir / "chat-with-bob.txt");
    EXPECT_NE(bob.find("Bob:"), std::string::npos);
    // Ends on the user's cue so that "-r User:" hands the turn back.
    EXPECT_EQ(bob.substr(bob.size() - 5), "User:");
}

}  // namespace
}  // namespace natter
