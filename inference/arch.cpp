#include "inference/arch.h"

#include "core/error.h"

namespace natter {

// Each defined in its inference/arch_<name>.cpp.
extern const Architecture kLlamaArchitecture;

namespace {

// The architectures natter runs, by general.architecture. A new family: one line here.
const Architecture* const kArchitectures[] = {
    &kLlamaArchitecture,
};

}  // namespace

const Architecture& find_architecture(const std::string& name, const std::string& path) {
    for (const Architecture* a : kArchitectures) {
        if (name == a->name) return *a;
    }
    const std::string what = name.empty() ? "the model names no architecture (general.architecture)"
                                          : "architecture '" + name + "' (general.architecture) is not supported";
    throw Error(path + ": " + what + "; natter runs " + supported_architectures());
}

std::string supported_architectures() {
    std::string names;
    for (const Architecture* a : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(a->name);
    return names;
}

void read_transformer_hparams(const GgufFile& file, Hparams& hp) {
    const std::string a = hp.architecture + ".";
    hp.n_embd = positive_int(file, a + "embedding_length", -1);
    hp.n_layer = positive_int(file, a + "block_count", -1);
    hp.n_ff = positive_int(file, a + "feed_forward_length", -1);
    hp.n_head = positive_int(file, a + "attention.head_count", -1);
    hp.n_head_kv = positive_int(file, a + "attention.head_count_kv", hp.n_head);
    hp.n_ctx_train = positive_int(file, a + "context_length", 2048);
    if (hp.n_embd % hp.n_head != 0 || hp.n_head % hp.n_head_kv != 0) {
        throw Error(file.path() + ": head counts (" + std::to_string(hp.n_head) + " query, " +
                    std::to_string(hp.n_head_kv) + " key/value) do not divide the embedding size " +
                    std::to_string(hp.n_embd));
    }
    hp.head_dim = positive_int(file, a + "attention.key_length", hp.n_embd / hp.n_head);
    if (positive_int(file, a + "attention.value_length", hp.head_dim) != hp.head_dim) {
        throw Error(file.path() + ": different key and value head sizes are not supported");
    }
    hp.rms_eps = static_cast<float>(file.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
    hp.rope.n_rot = positive_int(file, a + "rope.dimension_count", hp.head_dim);
    if (hp.rope.n_rot > hp.head_dim || hp.rope.n_rot % 2 != 0) {
        throw Error(file.path() + ": rope.dimension_count " + std::to_string(hp.rope.n_rot) +
                    " does not fit the head size " + std::to_string(hp.head_dim));
    }
    hp.rope.freq_base = static_cast<float>(file.get_float(a + "rope.freq_base", 10000.0));
}

}  // namespace natter
