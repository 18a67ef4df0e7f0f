// The status line at several widths, the context gauge and the prompt progress bar.
#include <gtest/gtest.h>

#include "ui/status.h"
#include "ui/text.h"

using namespace natter::ui;

namespace {
StatusInfo sample() {
    StatusInfo i;
    i.model = "SmolLM2-135M-Instruct";
    i.quant = "Q4_1";
    i.template_name = "chatml";
    i.temperature = 0.8f;
    i.top_p = 0.95f;
    i.top_k = 40;
    i.repeat_penalty = 1.1f;
    i.ctx_used = 512;
    i.ctx_total = 2048;
    i.ttft_ms = 123;
    i.tokens_per_second = 45.0;
    return i;
}
}  // namespace

TEST(Gauge, FillsInEighths) {
    EXPECT_EQ(gauge(0, 100, 4), "\u2595    \u258F");
    EXPECT_EQ(gauge(100, 100, 4), "\u2595\u2588\u2588\u2588\u2588\u258F");
    EXPECT_EQ(gauge(3, 4, 2), "\u2595\u2588\u258C\u258F");  // 12 eighths: one full cell and a half
    EXPECT_EQ(gauge(1, 8, 1), "\u2595\u258F\u258F");       // one eighth
    EXPECT_EQ(gauge(500, 100, 2), "\u2595\u2588\u2588\u258F");  // clamped
    EXPECT_EQ(gauge(5, 0, 2), "\u2595  \u258F");             // unknown total: empty
}

TEST(Status, WideWindowShowsEverything) {
    EXPECT_EQ(compose_status(sample(), 200),
              " SmolLM2-135M-Instruct Q4_1 \u2502 chatml \u2502 temp 0.80  top-p 0.95  top-k 40  rep 1.10 \u2502 "
              "ctx \u2595\u2588\u2588\u258C       \u258F 512/2048 \u2502 ttft 0.12s  45.0 tok/s ");
}

TEST(Status, EightyColumnsKeepsTheSettingsInShortForm) {
    const std::string line = compose_status(sample(), 80);
    EXPECT_EQ(line, " Q4_1 \u2502 chatml \u2502 t0.80 p0.95 k40 r1.10 \u2502 ctx \u2595\u2588\u258E   \u258F 512/2048 \u2502 45.0 tok/s ");
    EXPECT_EQ(display_width(line), 75);
}

TEST(Status, NarrowWindowsDropTheLeastImportantFirst) {
    EXPECT_EQ(compose_status(sample(), 40), " t0.80 p0.95 k40 r1.10 \u2502 ctx 512/2048 ");
    for (int width = 1; width <= 200; ++width) EXPECT_LE(display_width(compose_status(sample(), width)), width);
}

TEST(Status, PromptProgressReplacesTheContextGauge) {
    StatusInfo i = sample();
    i.evaluating = true;
    i.progress_done = 52;
    i.progress_total = 100;
    const std::string line = compose_status(i, 200);
    EXPECT_NE(line.find("prompt \u2595\u2588\u2588"), std::string::npos);
    EXPECT_NE(line.find("\u2588\u258D         \u258F 52%"), std::string::npos);  // 83 eighths of 20 cells
    EXPECT_EQ(line.find("ctx"), std::string::npos);
    EXPECT_NE(compose_status(i, 60).find("52%"), std::string::npos);
}

TEST(Status, SettingsShowAsTheyChange) {
    StatusInfo i = sample();
    i.temperature = 0.9f;
    i.top_k = 0;
    EXPECT_NE(compose_status(i, 200).find("temp 0.90  top-p 0.95  top-k 0  rep 1.10"), std::string::npos);
    i.tokens_per_second.reset();
    i.ttft_ms.reset();
    EXPECT_EQ(compose_status(i, 200).find("tok/s"), std::string::npos);  // no reply yet
}

TEST(Status, AReplyBeingWrittenIsShownFirst) {
    StatusInfo i = sample();
    i.replying = true;
    EXPECT_TRUE(compose_status(i, 200).starts_with(" \u25CF writing \u2502 SmolLM2"));
    EXPECT_TRUE(compose_status(i, 40).starts_with(" \u25CF \u2502 t0.80"));  // shrinks to the dot
}
