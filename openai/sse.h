#pragma once
// Server-sent events (text/event-stream) as OpenAI-compatible servers stream completions:
// each event is "data: <payload>\n\n"; the stream ends with "data: [DONE]".
#include <string>
#include <string_view>
#include <vector>

namespace natter::openai {

// One event carrying `data` (a JSON text), framed as the server writes it.
std::string sse_event(std::string_view data);

// Reassembles events from the bytes of a stream as they arrive in arbitrary pieces. Lines
// may end in \n, \r\n or \r; "data:" lines of one event are joined with \n; comments (":")
// and the other fields (event:, id:, retry:) are skipped.
class SseParser {
public:
    // The data of every event the bytes complete, in order.
    std::vector<std::string> push(std::string_view bytes);
    // Bytes of an event not yet complete (a stream that ends here was cut off).
    bool has_partial() const;

private:
    void line(std::string_view text, std::vector<std::string>& out);
    std::string buffer_;
    std::string data_;
    bool has_data_ = false;
    bool after_cr_ = false;
};

}  // namespace natter::openai
