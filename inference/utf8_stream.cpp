#include "inference/tokenizer.h"
#include "inference/unicode.h"

namespace natter {

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    return drain(false);
}

std::string Utf8Stream::flush() { return drain(true); }

// Emits every complete character; keeps a valid but unfinished sequence at the end for the
// next push, unless this is the final drain.
std::string Utf8Stream::drain(bool final) {
    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        const unicode::Utf8Check check = unicode::check_utf8(pending_, pos);
        if (check.status == unicode::Utf8Status::Complete) {
            out.append(pending_, pos, check.length);
        } else if (check.status == unicode::Utf8Status::Invalid || final) {
            unicode::append_utf8(out, unicode::kReplacement);
        } else {
            break;  // truncated: wait for the rest
        }
        pos += check.length;
    }
    pending_.erase(0, pos);
    return out;
}

}  // namespace natter
