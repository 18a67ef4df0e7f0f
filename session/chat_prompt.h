#pragma once
// A conversation's prompt as the chat writes it, for every front end that renders one (the
// session's generator, the server's /v1/chat/completions): which template a model gets, and
// how the rendered text becomes token ids.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer.h"
#include "prompts/template.h"

namespace natter {

class Model;

// The template `requested` names; with none, the one detected from the model's
// tokenizer.chat_template, else the family's (gemma for gemma*, phi-3 for phi3), else chatml. Throws natter::Error for an unknown name.
const ChatTemplate& chat_template_for_model(const TemplateRegistry& registry, const Model& model,
                                            const std::string& requested);

// Prompt text to ids: BOS only at the start of the context and only if the template lets the
// tokenizer add it; special-token text (e.g. <|im_start|>) is parsed.
std::vector<int32_t> tokenize_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                     std::string_view text, bool at_start);

}  // namespace natter
