#pragma once
// Importance matrices, as llama.cpp's imatrix tool computes and stores them: for every weight
// matrix of the layers (blk.*), the sum over the evaluated tokens of each input column's
// squared activation, and the number of tokens. The text is evaluated in chunks exactly as
// perplexity evaluates it (tools/perplexity.h); the forward pass hands each matmul's input to
// the collector through its one hook (inference/trace.h). Quantizing with the matrix weights
// each column's rounding error by its mean squared activation (tools/quantize.h).
//
// The two files llama.cpp reads: the GGUF one (general.type "imatrix"; per matrix NAME the F32
// tensors NAME.in_sum2, the sums, and NAME.counts; imatrix.datasets, .chunk_count and
// .chunk_size) and the legacy .dat (per matrix its name, the number of chunks and the sums
// divided by the count and multiplied by the number of chunks; then the chunk count and the
// dataset's name).
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tools/perplexity.h"

namespace natter::tools {

struct ImatrixEntry {
    std::vector<float> sums;      // per input column (n_mat blocks of columns for a stack)
    std::vector<int64_t> counts;  // per matrix of the stack (one for a 2-D weight)
};

struct Imatrix {
    std::map<std::string, ImatrixEntry> entries;  // by weight name, in llama.cpp's (sorted) order
    std::vector<std::string> datasets;            // the text files it was computed on
    int chunk_count = 0;
    int chunk_size = 0;  // tokens per chunk (0: unknown, a legacy file)
    // Read from a legacy .dat: sums hold sum / count * chunks and counts {chunks}, as
    // llama.cpp's loader leaves them.
    bool legacy = false;
};

struct ImatrixOptions {
    PerplexityOptions eval;       // chunks, batch and threads
    bool process_output = false;  // also collect output.weight, as llama.cpp's --process-output
    std::string dataset;          // the text file's name as given, stored in the file
};

// Evaluates the text's chunks and collects every blk.* matmul's input of at least 16 rows
// (llama.cpp's rule: smaller batches are skipped). on_chunk sees the running perplexity.
// Throws natter::Error for a text too short or a non-finite activation.
Imatrix compute_imatrix(const Model& model, std::span<const int32_t> tokens, const ImatrixOptions& options,
                        const std::function<void(const PerplexityChunk&)>& on_chunk);

enum class ImatrixFormat { Gguf, Dat };
// Throws natter::Error (and leaves no file behind) when it cannot write.
void write_imatrix(const Imatrix& m, const std::string& path, ImatrixFormat format);
// Either format (a GGUF by its magic, else the legacy .dat), checked: one clear sentence
// for a file that is neither.
Imatrix read_imatrix(const std::string& path);

// What llama.cpp's quantize gives its quantizers for each weight: sums / count per column
// (1 where a matrix of a stack has no tokens); a legacy file's values divided by its
// chunk count.
std::map<std::string, std::vector<float>> importance_weights(const Imatrix& m);

}  // namespace natter::tools
