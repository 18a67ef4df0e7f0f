#include "tools/sentencepiece_model.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

#include "core/error.h"

namespace natter::tools {

namespace {

// A protobuf message's fields, read in order; every read is bounds-checked.
class Wire {
public:
    Wire(std::string_view bytes, const std::string& file) : p_(bytes), file_(file) {}

    bool done() const { return p_.empty(); }

    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_.empty()) fail("a number runs past the end");
            const auto b = static_cast<uint8_t>(p_.front());
            p_.remove_prefix(1);
            v |= uint64_t{b & 0x7fu} << shift;
            if ((b & 0x80u) == 0) return v;
        }
        fail("a number is longer than 10 bytes");
    }

    std::string_view bytes(size_t n) {
        if (n > p_.size()) fail("a field of " + std::to_string(n) + " bytes runs past the end");
        const std::string_view s = p_.substr(0, n);
        p_.remove_prefix(n);
        return s;
    }

    // Skips a field of the given wire type.
    void skip(uint64_t wire_type) {
        switch (wire_type) {
            case 0: varint(); break;
            case 1: bytes(8); break;
            case 2: bytes(static_cast<size_t>(varint())); break;
            case 5: bytes(4); break;
            default: fail("field of unknown wire type " + std::to_string(wire_type));
        }
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(file_ + " is not a valid SentencePiece model: " + what);
    }

private:
    std::string_view p_;
    const std::string& file_;
};

SentencePiece read_piece(std::string_view message, const std::string& file) {
    Wire w(message, file);
    SentencePiece sp;
    while (!w.done()) {
        const uint64_t key = w.varint();
        const uint64_t field = key >> 3, wire = key & 7;
        if (field == 1 && wire == 2) {
            sp.piece = std::string(w.bytes(static_cast<size_t>(w.varint())));
        } else if (field == 2 && wire == 5) {
            const std::string_view b = w.bytes(4);
            std::memcpy(&sp.score, b.data(), 4);
        } else if (field == 3 && wire == 0) {
            sp.type = static_cast<int>(w.varint());
            if (sp.type < SentencePiece::Normal || sp.type > SentencePiece::Byte) {
                w.fail("piece '" + sp.piece + "' has unknown type " + std::to_string(sp.type));
            }
        } else {
            w.skip(wire);
        }
    }
    return sp;
}

}  // namespace

std::vector<SentencePiece> read_sentencepiece_model(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open " + path);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Wire w(data, path);
    std::vector<SentencePiece> pieces;
    while (!w.done()) {
        const uint64_t key = w.varint();
        if ((key >> 3) == 1 && (key & 7) == 2) {
            pieces.push_back(read_piece(w.bytes(static_cast<size_t>(w.varint())), path));
        } else {
            w.skip(key & 7);
        }
    }
    if (pieces.empty()) w.fail("it has no pieces");
    return pieces;
}

}  // namespace natter::tools
