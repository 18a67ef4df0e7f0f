#include "openai/sse.h"

namespace natter::openai {

std::string sse_event(std::string_view data) {
    std::string out = "data: ";
    out += data;
    out += "\n\n";
    return out;
}

std::vector<std::string> SseParser::push(std::string_view bytes) {
    std::vector<std::string> out;
    for (const char c : bytes) {
        if (after_cr_ && c == '\n') {  // the \n of a \r\n: that line already ended
            after_cr_ = false;
            continue;
        }
        after_cr_ = c == '\r';
        if (c == '\n' || c == '\r') {
            line(buffer_, out);
            buffer_.clear();
        } else {
            buffer_ += c;
        }
    }
    return out;
}

bool SseParser::has_partial() const { return !buffer_.empty() || has_data_; }

void SseParser::line(std::string_view text, std::vector<std::string>& out) {
    if (text.empty()) {  // a blank line dispatches the event
        if (has_data_) out.push_back(std::move(data_));
        data_.clear();
        has_data_ = false;
        return;
    }
    if (text.front() == ':') return;
    const size_t colon = text.find(':');
    const std::string_view field = text.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field != "data") return;
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
}

}  // namespace natter::openai
