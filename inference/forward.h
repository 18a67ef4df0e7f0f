#pragma once
// The forward pass: token ids in, logits out, with a KV cache holding earlier positions.
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "inference/model.h"
#include "inference/thread_pool.h"
#include "inference/trace.h"

namespace natter {

class Batch;

// Keys and values of every layer, stored as F16 (as llama.cpp's default cache is). Without
// flash attention values are stored transposed, one row per dimension over all positions, as
// llama.cpp's cache keeps them then: P·V is a dot product along a row. With flash attention
// (v_trans false) a position's values are one row, as its keys are, as llama.cpp keeps them
// then. The capacity is n_ctx rounded up to kKvPad so that attention can run over padded
// lengths as llama.cpp does (the padding is zero and masked).
struct KvCache {
    static constexpr int kKvPad = 256;

    int n_ctx = 0;
    int capacity = 0;
    int n_layer = 0;
    int kv_dim = 0;
    bool v_trans = true;
    std::vector<uint16_t> k;  // [layer][position][kv_dim]
    std::vector<uint16_t> v;  // v_trans: [layer][kv_dim][position], else [layer][position][kv_dim]

    KvCache(int n_ctx, int n_layer, int kv_dim, bool v_trans = true);
    uint16_t* k_at(int layer, int pos) { return k.data() + (static_cast<size_t>(layer) * capacity + pos) * kv_dim; }
    uint16_t* v_row(int layer, int dim) { return v.data() + (static_cast<size_t>(layer) * kv_dim + dim) * capacity; }
    uint16_t* v_at(int layer, int pos) { return v.data() + (static_cast<size_t>(layer) * capacity + pos) * kv_dim; }
    size_t bytes() const { return (k.size() + v.size()) * sizeof(uint16_t); }
    // The length attention runs over when positions [0, n_used) are filled: llama.cpp's
    // padded KV length, max(256, n_used rounded up to 256), capped at the capacity.
    int padded_length(int n_used) const;
};

struct ForwardOptions {
    int n_ctx = 2048;
    int n_batch = 512;   // prompt tokens evaluated together
    int n_threads = 0;   // 0: one per physical core
    // llama.cpp's flash attention (-fa on: ggml-cpu's numerics) or its attention without it.
    // With it, a generated token's attention over 512 or more cached positions is split into
    // n_threads ranges as llama.cpp splits it, so its logits depend on n_threads as llama.cpp's do.
    bool flash_attn = false;
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

    // Several sequences (the server's slots), each with a KV cache of its own of n_ctx
    // positions. set_sequences(n) makes sequences 0..n-1 (all empty); use_sequence(s) makes s
    // the one that eval() and evaluated() see. One sequence, the default, is today's engine.
    void set_sequences(int n);
    int n_sequences() const { return static_cast<int>(parked_.size()); }
    void use_sequence(int seq);
    // One step of several sequences at once: row r is token tokens[r] of sequence seqs[r] at
    // position positions[r]. A sequence's rows stand together at consecutive positions, the
    // first at most at its evaluated() position: one row (a generated token) or several (a
    // batch of a prompt, evaluated in the same pass). Every weight matmul takes all the rows
    // together; attention reads each sequence's own cache, as eval() of its rows alone would.
    // Returns the logits of every row (row-major, n_vocab each): those eval() gives for the same
    // rows alone wherever the weights' summation order does not depend on the batch size
    // (inference/ops.cpp: matmul_path).
    std::span<const float> decode(std::span<const int32_t> tokens, std::span<const int> seqs,
                                  std::span<const int> positions);

    int n_ctx() const { return cache_.n_ctx; }
    int n_threads() const { return n_threads_; }
    bool flash_attn() const { return flash_attn_; }
    int evaluated() const { return evaluated_; }  // positions now valid in the cache
    const Model& model() const { return model_; }
    size_t cache_bytes() const { return cache_.bytes(); }

    // Where the intermediate tensors go: the NATTER_DUMP_DIR dump when that is set
    // (inference/tensor_dump.h), else nowhere (nullptr). The trace must outlive the calls.
    void set_trace(Trace* trace) { trace_ = trace; }

private:
    friend class Batch;  // the operations an architecture's block is written in (arch.h)

    // Runs one batch of tokens through every layer; false if stopped.
    bool eval_batch(std::span<const int32_t> tokens, int n_past, bool all_logits,
                    const std::atomic<bool>* stop, float* logits_out);
    // The layers and, with logits_out, the output of batch's n_out rows; false if stopped.
    bool run_layers(Batch& batch, int n_out, const std::atomic<bool>* stop, float* logits_out);
    void store_kv(int layer, int n_tokens, int n_past);
    void store_kv_row(int layer, int t, int pos);
    void attention(int layer, int n_tokens, int n_past);
    // decode()'s attention: row r against the cache of sequence seqs[r] at positions[r].
    void attention_rows(int layer, int n_rows, const int* seqs, const int* positions);
    void widen_kv(int layer, int n_kv);
    void attention_head(int layer, int t, int h, int n_tokens, int n_past, int n_kv, int thread);
    // A head's scores w over [first, pos] to its probabilities in F16 (p16) and widened (p32).
    void probabilities(float* w, int n_kv, int first, int pos, uint16_t* p16, float* p32) const;
    // attention_head's single-query path for every head of row t at position pos, by KV head:
    // each K and V row is read once for its group of query heads.
    void attention_decode(int layer, int t, int pos, int n_kv);
    // Flash attention (inference/flash_attention.cpp) of rows [first, end), row t at position
    // n_past + t, as ggml-cpu's flash_attn_ext takes them: a lone row over 512+ positions split
    // over the threads, 64+ rows tiled, other rows one position at a time.
    void flash_attention(int layer, int first, int end, int n_past);
    // One query row and head over cache positions [begin, end) (ggml's one_chunk): the
    // unnormalised F32 result and the running maximum and sum.
    void flash_heads(int layer, int t, int h0, int n, int pos, int begin, int end, int thread, float* out, float* stats,
                     size_t stride);
    void flash_split(int layer, int t, int pos, int n_kv);
    void flash_tiled(int layer, int first, int end, int n_past, int n_kv);
    void resize_scratch(int n_tokens);

    const Model& model_;
    Trace* trace_;
    KvCache cache_;
    int n_batch_;
    int n_threads_;
    bool flash_attn_;
    ThreadPool pool_;
    int evaluated_ = 0;
    // The sequences' caches and positions while they are not the one in use (cache_ and
    // evaluated_ hold that one's; its entry here holds an empty cache meanwhile).
    struct Sequence {
        KvCache cache;
        int evaluated = 0;
    };
    std::vector<Sequence> parked_;
    int active_ = 0;
    // Scratch, [n_tokens][width] each.
    std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, logits_;
    std::vector<float> rope_cos_, rope_sin_;
    std::vector<uint16_t> q16_;  // queries in F16, as they meet the cache
    // Per thread: attention weights over the padded KV length, in float and in F16.
    std::vector<float> att_scores_;
    std::vector<uint16_t> att_probs_;
    // Batches: this layer's K and V cache rows widened to F32 once, shared by every query
    // row and head (k32_ [position][kv_dim], v32_ [kv_dim][n_kv]); per thread, the query and
    // the probabilities widened likewise.
    std::vector<float> k32_, v32_, q32_, att_probs32_;
    // attention_decode: every head's scores, then probabilities widened [head][position].
    std::vector<float> dec_scores_, dec_probs32_;
    // Flash attention: per thread, the F16 accumulator and the tiled path's rows; the split
    // path's partial results [head][chunk][max, sum, values].
    std::vector<uint16_t> fa_acc16_;
    std::vector<float> fa_q32_, fa_kv32_;  // flash_heads: its heads' queries, a V row widened
    std::vector<float> fa_tile_, fa_partials_;
};

}  // namespace natter
