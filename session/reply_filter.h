#pragma once
// Decides which generated text the user may see. The template's stop strings end the reply
// and are never shown, so text that might be the start of one is held back until it is
// clearly not; reverse prompts (-r) also end the reply but stay in it, as llama.cpp shows them.
#include <string>
#include <string_view>
#include <vector>

#include "session/session.h"

namespace natter {

class ReplyFilter {
public:
    ReplyFilter(std::vector<std::string> stop_strings, std::vector<std::string> reverse_prompts);

    // Adds generated text (complete UTF-8 characters); returns the part that may be shown
    // now. Once stopped(), further pushes are ignored and return "".
    std::string push(std::string_view text);
    // The reply is over (end of text, max tokens, cancel): releases what was held back.
    std::string flush();

    bool stopped() const { return reason_ != StopReason::None; }
    StopReason reason() const { return reason_; }  // StopString, ReversePrompt or None
    const std::string& stopping_word() const { return stopping_word_; }  // the stop string or reverse prompt that ended it
    const std::string& shown() const { return shown_; }  // the reply text so far

private:
    std::string release(size_t n);
    size_t held_back_length() const;

    std::vector<std::string> stops_;
    std::vector<std::string> reverse_;
    std::string shown_;
    std::string pending_;
    StopReason reason_ = StopReason::None;
    std::string stopping_word_;
};

}  // namespace natter
