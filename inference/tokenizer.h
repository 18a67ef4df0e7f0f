#pragma once
// Text <-> token ids for the vocabularies llama-family GGUF files carry:
// SentencePiece-style (`tokenizer.ggml.model = llama`) and byte-level BPE (`gpt2`).
// Tokenization matches llama.cpp id for id; see tests/unit/tokenizer.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

class GgufFile;

// From tokenizer.ggml.token_type.
enum class TokenAttr : uint8_t { Normal, Unknown, Control, UserDefined, Unused, Byte };

class Tokenizer {
public:
    // Throws natter::Error for an unsupported model or pre-tokenizer type and for missing
    // or malformed vocabulary arrays.
    static Tokenizer from_gguf(const GgufFile& file);

    // add_special: prepend BOS / append EOS as the model's metadata asks
    // (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp's defaults per type).
    // parse_special: recognise control, unknown and user-defined token texts such as
    // "<|im_start|>" inside the text. (User-defined tokens are recognised even without it,
    // as llama.cpp and Hugging Face do.)
    std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes a token stands for: byte tokens give their byte, byte-level BPE text is
    // mapped back to bytes, SentencePiece "▁" becomes a space. Control and unknown tokens
    // give their text only when render_special, otherwise nothing. The bytes may be part
    // of a UTF-8 character; Utf8Stream reassembles them. Throws for an id out of range.
    std::string token_to_piece(int32_t id, bool render_special) const;
    // The pieces joined; for SentencePiece the space the tokenizer prefixed is removed
    // from the first piece (llama.cpp's llama_detokenize without special removal).
    std::string detokenize(std::span<const int32_t> ids, bool render_special) const;

    int32_t n_vocab() const;
    int32_t bos() const;  // -1 when absent
    int32_t eos() const;
    int32_t eot() const;
    // End of generation: eos, eot, eom and the tokens llama.cpp recognises by their text
    // (<|im_end|>, <|eot_id|>, <|endoftext|>, ...), plus FIM pad/repo/separator tokens.
    bool is_eog(int32_t id) const;
    bool add_bos() const;
    bool add_eos() const;

    std::string_view token_text(int32_t id) const;  // throws for an id out of range
    TokenAttr attr(int32_t id) const;
    std::optional<int32_t> find_token(std::string_view text) const;

    struct Vocab;  // defined in inference/tokenizer_vocab.h

private:
    explicit Tokenizer(std::shared_ptr<const Vocab> vocab);
    std::shared_ptr<const Vocab> vocab_;
};

// Streams token pieces to text without ever splitting a multi-byte UTF-8 character:
// push() returns the complete characters available so far, flush() the rest. Malformed
// bytes come out as U+FFFD, so the output is always valid UTF-8.
class Utf8Stream {
public:
    std::string push(std::string_view bytes);
    std::string flush();

private:
    std::string drain(bool final);
    std::string pending_;
};

}  // namespace natter
