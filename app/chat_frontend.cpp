#include "app/chat_frontend.h"

#include <optional>

namespace natter::app {

namespace {
std::optional<ChatFrontEnd>& registered() {
    static std::optional<ChatFrontEnd> front_end;
    return front_end;
}
}  // namespace

void register_chat_front_end(ChatFrontEnd front_end) { registered() = std::move(front_end); }

const ChatFrontEnd* chat_front_end() { return registered() ? &*registered() : nullptr; }

}  // namespace natter::app
