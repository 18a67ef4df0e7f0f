#pragma once
// The status line: what model and settings are in force, how full the context is, how
// fast the last reply was, and a progress bar while a prompt is evaluated. It is made of
// segments that shrink, least important first, until the line fits the window.
#include <optional>
#include <string>

namespace natter::ui {

struct StatusInfo {
    std::string model;          // e.g. "SmolLM2-135M-Instruct"
    std::string quant;          // e.g. "Q4_1"
    std::string template_name;  // e.g. "chatml"
    float temperature = 0.8f;
    float top_p = 0.95f;
    int top_k = 40;
    float repeat_penalty = 1.1f;
    int ctx_used = 0;
    int ctx_total = 0;
    std::optional<double> ttft_ms;         // the last reply's, once there is one
    std::optional<double> tokens_per_second;
    bool replying = false;                 // a reply is being written
    bool evaluating = false;               // its prompt is being evaluated: show progress
    int progress_done = 0;
    int progress_total = 0;
};

// A bar of `cells` cells filled in proportion done/total (eighth-block resolution).
std::string gauge(int done, int total, int cells);

// The status line text, at most `width` cells wide.
std::string compose_status(const StatusInfo& info, int width);

}  // namespace natter::ui
