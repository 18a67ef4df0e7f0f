#pragma once
// Open-addressing hash tables for the tokenizer's hot lookups (token text -> id, merge pair
// -> rank). Merging probes these for every adjacent pair, and node-based std::unordered_map
// spends most of that time on cache misses; flat slots halve the tokenizer's run time.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

namespace detail {
inline size_t table_capacity(size_t n) {  // a power of two, at most half full
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    return capacity;
}
}  // namespace detail

// Token text -> id. The texts stay in the caller's vector; a slot keeps the id and a hash.
class TextIndex {
public:
    // A text that occurs twice maps to its last id, as in llama.cpp.
    void build(const std::vector<std::string>& texts) {
        slots_.assign(detail::table_capacity(texts.size()), Slot{});
        mask_ = slots_.size() - 1;
        for (size_t id = 0; id < texts.size(); ++id) {
            const size_t h = hash(texts[id]);
            size_t i = h & mask_;
            while (slots_[i].id >= 0 && texts[size_t(slots_[i].id)] != texts[id]) i = (i + 1) & mask_;
            slots_[i] = {uint32_t(h >> 32), int32_t(id)};
        }
    }

    int32_t find(std::string_view text, const std::vector<std::string>& texts) const {
        if (slots_.empty()) return -1;
        const size_t h = hash(text);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.id < 0) return -1;
            if (slot.tag == uint32_t(h >> 32) && texts[size_t(slot.id)] == text) return slot.id;
        }
    }

private:
    struct Slot {
        uint32_t tag = 0;  // high half of the hash, to skip most string compares
        int32_t id = -1;   // -1: empty
    };
    static size_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
};

// (left id, right id) -> merge rank; the first rank given for a pair stays.
class PairRanks {
public:
    void reserve(size_t n) {
        slots_.assign(detail::table_capacity(n), Slot{});
        mask_ = slots_.size() - 1;
    }

    void insert(int32_t left, int32_t right, int32_t rank) {
        if (2 * (size_ + 1) > slots_.size()) grow();
        const uint64_t key = pack(left, right);
        size_t i = mix(key) & mask_;
        while (slots_[i].rank >= 0) {
            if (slots_[i].key == key) return;
            i = (i + 1) & mask_;
        }
        slots_[i] = {key, rank};
        ++size_;
    }

    int32_t find(int32_t left, int32_t right) const {
        if (slots_.empty()) return -1;
        const uint64_t key = pack(left, right);
        for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
            if (slots_[i].rank < 0 || slots_[i].key == key) return slots_[i].rank;
        }
    }

private:
    struct Slot {
        uint64_t key = 0;
        int32_t rank = -1;  // -1: empty
    };
    static uint64_t pack(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }
    static size_t mix(uint64_t key) {  // splitmix64 finaliser: ids are small and clustered
        key ^= key >> 30;
        key *= 0xBF58476D1CE4E5B9ull;
        key ^= key >> 27;
        key *= 0x94D049BB133111EBull;
        return size_t(key ^ (key >> 31));
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        reserve(old.empty() ? 8 : old.size());
        size_ = 0;
        for (const Slot& s : old) {
            if (s.rank >= 0) insert(int32_t(s.key >> 32), int32_t(uint32_t(s.key)), s.rank);
        }
    }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace natter
