#pragma once
// The pieces of a SentencePiece model file (tokenizer.model, a ModelProto in protobuf wire
// format), read with every length checked; only what a GGUF vocabulary needs.
#include <cstdint>
#include <string>
#include <vector>

namespace natter::tools {

struct SentencePiece {
    enum Type : int { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
    std::string piece;
    float score = 0.0f;
    int type = Normal;
};

// Throws natter::Error naming the file when it is not a valid SentencePiece model.
std::vector<SentencePiece> read_sentencepiece_model(const std::string& path);

}  // namespace natter::tools
