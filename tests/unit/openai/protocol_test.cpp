// openai/: server-sent events reassembled from any split of the bytes, and the JSON shapes
// of OpenAI's chat-completion stream as natter serve, llama-server and vLLM write them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "openai/protocol.h"
#include "openai/sse.h"

namespace natter::openai {
namespace {

TEST(Sse, EventsSurviveEverySplitOfTheBytes) {
    const std::string stream =
        ": keep-alive comment\r\n\r\n"
        "data: {\"a\":1}\r\n\r\n"
        "event: message\nid: 7\ndata: line one\ndata:line two\n\n"
        "data: [DONE]\r\r";
    const std::vector<std::string> expected = {"{\"a\":1}", "line one\nline two", "[DONE]"};
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        SseParser p;
        std::vector<std::string> got = p.push(std::string_view(stream).substr(0, cut));
        for (std::string& e : p.push(std::string_view(stream).substr(cut))) got.push_back(std::move(e));
        EXPECT_EQ(got, expected) << "cut at " << cut;
        EXPECT_FALSE(p.has_partial());
    }
    SseParser byte_by_byte;
    std::vector<std::string> got;
    for (char c : stream) {
        for (std::string& e : byte_by_byte.push(std::string_view(&c, 1))) got.push_back(std::move(e));
    }
    EXPECT_EQ(got, expected);
}

TEST(Sse, AnEventWithoutItsBlankLineIsPartial) {
    SseParser p;
    EXPECT_TRUE(p.push("data: {\"choices\": [").empty());
    EXPECT_TRUE(p.has_partial());
    EXPECT_EQ(sse_event("[DONE]"), "data: [DONE]\n\n");
}

TEST(Protocol, ParsesChatChunksUsageTimingsAndErrors) {
    StreamEvent e = parse_stream_event(
        R"({"choices":[{"delta":{"role":"assistant","content":null},"finish_reason":null,"index":0}],"model":"m"})");
    EXPECT_EQ(e.text, "");
    EXPECT_FALSE(e.finish_reason);
    EXPECT_EQ(e.model, "m");
    e = parse_stream_event(R"({"choices":[{"delta":{"content":"Par"},"finish_reason":null}]})");
    EXPECT_EQ(e.text, "Par");
    e = parse_stream_event(R"({"choices":[{"delta":{},"finish_reason":"length"}],
        "usage":{"completion_tokens":9,"prompt_tokens":31,"total_tokens":40,"prompt_tokens_details":{"cached_tokens":20}},
        "timings":{"prompt_n":11,"prompt_ms":52.5,"predicted_n":9,"predicted_ms":300.0}})");
    ASSERT_TRUE(e.finish_reason && e.usage && e.timings);
    EXPECT_EQ(*e.finish_reason, "length");
    EXPECT_EQ(e.usage->prompt_tokens, 31);
    EXPECT_EQ(e.usage->completion_tokens, 9);
    EXPECT_EQ(e.usage->cached_tokens, 20);
    EXPECT_DOUBLE_EQ(e.timings->prompt_ms, 52.5);
    e = parse_stream_event(R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}})");  // OpenAI's usage chunk
    EXPECT_EQ(e.usage->prompt_tokens, 5);
    e = parse_stream_event(R"({"choices":[{"text":" Paris","index":0,"finish_reason":null}]})");  // /v1/completions
    EXPECT_EQ(e.text, " Paris");
    e = parse_stream_event(R"({"error":{"code":408,"message":"The request ran past the server's --timeout.","type":"timeout_error"}})");
    EXPECT_EQ(e.error, "The request ran past the server's --timeout.");
    EXPECT_TRUE(parse_stream_event("[DONE]").done);
    EXPECT_THROW(parse_stream_event("{not json"), Error);
    EXPECT_THROW(parse_stream_event("[1, 2]"), Error);
    EXPECT_THROW(parse_stream_event(R"({"choices":[7]})"), Error);
}

TEST(Protocol, ErrorMessagesOfTheServersPeopleUse) {
    EXPECT_EQ(error_message(R"({"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}})"), "Invalid API Key");
    EXPECT_EQ(error_message(R"({"error":"model 'x' not found"})"), "model 'x' not found");  // ollama
    EXPECT_EQ(error_message(R"({"detail":"Not Found"})"), "Not Found");                       // FastAPI (vLLM)
    EXPECT_EQ(error_message("<html>\n<body>502 Bad Gateway</body>"), "<html>");
    EXPECT_EQ(error_message(""), "");
    EXPECT_EQ(error_message(std::string(500, 'x')).size(), 203u);
}

TEST(Protocol, RequestsCarryTheSettingsAndTheMessages) {
    RequestSampling s;
    s.temperature = 0.25f;
    s.top_k = 7;
    s.seed = 42;
    s.max_tokens = 16;
    s.stop = {"User:"};
    const auto j = nlohmann::json::parse(chat_request("m", {{"system", "Be brief."}, {"user", "hi"}}, s));
    EXPECT_EQ(j["model"], "m");
    EXPECT_EQ(j["messages"], nlohmann::json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}])"));
    EXPECT_FLOAT_EQ(j["temperature"].get<float>(), 0.25f);
    EXPECT_EQ(j["top_k"], 7);
    EXPECT_EQ(j["seed"], 42);
    EXPECT_EQ(j["max_tokens"], 16);
    EXPECT_EQ(j["stop"], nlohmann::json::array({"User:"}));
    EXPECT_EQ(j["stream"], true);
    EXPECT_EQ(j["stream_options"]["include_usage"], true);
    const auto plain = nlohmann::json::parse(completion_request("m", "The capital", RequestSampling{}));
    EXPECT_EQ(plain["prompt"], "The capital");
    EXPECT_FALSE(plain.contains("seed"));        // none: the server picks
    EXPECT_FALSE(plain.contains("max_tokens"));  // -1: the server's limit
    EXPECT_FALSE(plain.contains("stop"));
}

TEST(Protocol, ModelLists) {
    const auto models = parse_models(R"({"object":"list","data":[{"id":"a","meta":{"n_ctx":2048}},{"id":"b"},{"x":1}]})");
    ASSERT_EQ(models.size(), 2u);
    EXPECT_EQ(models[0].id, "a");
    EXPECT_EQ(models[0].n_ctx, 2048);
    EXPECT_EQ(models[1].n_ctx, 0);
    EXPECT_THROW(parse_models(R"({"models":[]})"), Error);
    EXPECT_THROW(parse_models("nope"), Error);
}

}  // namespace
}  // namespace natter::openai
