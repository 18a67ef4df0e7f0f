#pragma once
// The forward pass: token ids in, logits out, with a KV cache holding earlier positions.
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "inference/model.h"

namespace natter {

// Keys and values of every layer for positions [0, n_ctx), stored as F16 (as llama.cpp's
// default cache is, which keeps our attention numerically in step with it).
struct KvCache {
    int n_ctx = 0;
    int n_layer = 0;
    int kv_dim = 0;
    std::vector<uint16_t> k, v;  // [layer][position][kv_dim]

    KvCache(int n_ctx, int n_layer, int kv_dim);
    uint16_t* k_at(int layer, int pos) { return k.data() + offset(layer, pos); }
    uint16_t* v_at(int layer, int pos) { return v.data() + offset(layer, pos); }
    size_t bytes() const { return (k.size() + v.size()) * sizeof(uint16_t); }

private:
    size_t offset(int layer, int pos) const {
        return (static_cast<size_t>(layer) * n_ctx + static_cast<size_t>(pos)) * kv_dim;
    }
};

struct ForwardOptions {
    int n_ctx = 2048;
    int n_batch = 512;   // prompt tokens evaluated together
    int n_threads = 0;   // 0: one per physical core
};

class Forward {
public:
    Forward(const Model& model, const ForwardOptions& options);

    // Evaluates tokens at positions n_past, n_past+1, ... and returns the logits
    // (n_vocab floats) of the last one; with all_logits, of every token (row-major).
    // Positions must stay below n_ctx. If `stop` becomes true the call returns early
    // (between batches and layers) with an empty span; the cache then holds only the
    // positions that were completed, as reported by evaluated().
    std::span<const float> eval(std::span<const int32_t> tokens, int n_past, bool all_logits = false,
                                const std::atomic<bool>* stop = nullptr);

    int n_ctx() const { return cache_.n_ctx; }
    int n_threads() const { return n_threads_; }
    int evaluated() const { return evaluated_; }  // positions now valid in the cache
    const Model& model() const { return model_; }
    size_t cache_bytes() const { return cache_.bytes(); }

private:
    // Runs one batch of tokens through every layer; false if stopped.
    bool eval_batch(std::span<const int32_t> tokens, int n_past, bool all_logits,
                    const std::atomic<bool>* stop, float* logits_out);
    void attention(int layer, int n_tokens, int n_past);
    void resize_scratch(int n_tokens);

    const Model& model_;
    KvCache cache_;
    int n_batch_;
    int n_threads_;
    int evaluated_ = 0;
    // Scratch, [n_tokens][width] each.
    std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, logits_, scores_;
    std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace natter
