#pragma once
// Hugging Face safetensors checkpoints, read in place: one model.safetensors, or shards listed
// by model.safetensors.index.json. Every header length, offset and shape is checked before use;
// the data stays in the memory-mapped files (nothing is copied until a tensor is converted).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace natter::tools {

enum class SafeDtype { F32, F16, BF16 };
size_t dtype_size(SafeDtype t);
const char* dtype_name(SafeDtype t);

struct SafeTensor {
    std::string name;
    SafeDtype dtype = SafeDtype::F32;
    std::vector<int64_t> shape;  // PyTorch's order: shape.back() is the contiguous dimension
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    std::string file;  // the shard it is in, for messages

    int64_t n_elements() const;
};

class Checkpoint {
public:
    // Opens the checkpoint in dir. Throws natter::Error with one sentence naming the file and
    // the problem: no safetensors (a pickled PyTorch .bin/.pth is refused, with what to do),
    // an index naming a missing shard or a tensor its shard lacks, a truncated file, a dtype
    // natter does not convert, a shape that does not match the bytes.
    static Checkpoint open(const std::string& dir);

    Checkpoint(Checkpoint&&) noexcept;
    Checkpoint& operator=(Checkpoint&&) noexcept;
    ~Checkpoint();

    const std::vector<SafeTensor>& tensors() const { return tensors_; }  // in file order
    const SafeTensor* find(const std::string& name) const;
    uint64_t total_bytes() const;
    // Tells the kernel a tensor's pages are no longer needed (they are read again from the
    // file if touched), so that a streamed conversion does not keep the whole model resident.
    static void release(const uint8_t* data, size_t nbytes);

    struct Mapping;  // one memory-mapped shard

private:
    Checkpoint();
    std::vector<std::unique_ptr<Mapping>> mappings_;
    std::vector<SafeTensor> tensors_;
};

}  // namespace natter::tools
