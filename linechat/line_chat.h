#pragma once
// The plain line-mode chat: one message per input line (a line ending in '\' continues on
// the next), replies streamed to `out`, everything else to `err`. Used when stdin is not a
// terminal (`echo hi | natter chat`), so the session is scriptable and testable.
#include <iosfwd>

namespace natter {

class Session;

struct LineChatOptions {
    bool show_prompt_marker = false;  // write "> " to err before reading (interactive use)
    bool verbose = false;             // per-reply token counts and speed on err
    bool handle_sigint = false;       // Ctrl-C stops a reply; at the prompt it ends the chat
    // At the end, autosave the chat (and say where on err). `natter chat` turns it off for
    // piped input without --save, so that one-shot scripts leave no files; /save still works.
    bool autosave = true;
};

// Runs until end of input or /quit, then autosaves (if options.autosave). Returns the exit code.
int run_line_chat(Session& session, std::istream& in, std::ostream& out, std::ostream& err,
                  const LineChatOptions& options);

}  // namespace natter
