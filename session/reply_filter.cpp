#include "session/reply_filter.h"

#include <algorithm>

namespace natter {

namespace {

std::vector<std::string> without_empty(std::vector<std::string> strings) {
    std::erase_if(strings, [](const std::string& s) { return s.empty(); });
    return strings;
}

}  // namespace

ReplyFilter::ReplyFilter(std::vector<std::string> stop_strings, std::vector<std::string> reverse_prompts)
    : stops_(without_empty(std::move(stop_strings))), reverse_(without_empty(std::move(reverse_prompts))) {}

std::string ReplyFilter::release(size_t n) {
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    shown_ += out;
    return out;
}

// The longest suffix of pending_ that is a proper start of some stop string.
size_t ReplyFilter::held_back_length() const {
    size_t best = 0;
    for (const auto& stop : stops_) {
        const size_t max_len = std::min(stop.size() - 1, pending_.size());
        for (size_t len = max_len; len > best; --len) {
            if (std::string_view(pending_).substr(pending_.size() - len) == std::string_view(stop).substr(0, len)) {
                best = len;
                break;
            }
        }
    }
    return best;
}

std::string ReplyFilter::push(std::string_view text) {
    if (stopped()) return {};
    pending_ += text;

    // Earliest end of the reply: a stop string (cut before it) or a reverse prompt (cut after).
    size_t cut = std::string::npos;
    StopReason reason = StopReason::None;
    const std::string* word = nullptr;
    for (const auto& stop : stops_) {
        const size_t at = pending_.find(stop);
        if (at < cut) {
            cut = at;
            reason = StopReason::StopString;
            word = &stop;
        }
    }
    // A reverse prompt may begin in text already shown (it is never held back).
    const std::string all = shown_ + pending_;
    for (const auto& rp : reverse_) {
        const size_t from = shown_.size() >= rp.size() ? shown_.size() - rp.size() + 1 : 0;
        const size_t at = all.find(rp, from);
        if (at == std::string::npos) continue;
        const size_t end = at + rp.size() - shown_.size();  // inside pending_
        if (end < cut || (end == cut && reason != StopReason::StopString)) {
            cut = end;
            reason = StopReason::ReversePrompt;
            word = &rp;
        }
    }
    if (reason != StopReason::None) {
        std::string out = release(cut);
        pending_.clear();
        reason_ = reason;
        stopping_word_ = *word;
        return out;
    }
    return release(pending_.size() - held_back_length());
}

std::string ReplyFilter::flush() {
    if (stopped()) return {};
    return release(pending_.size());
}

}  // namespace natter
