#include "inference/model_reader.h"

#include "core/error.h"
#include "quant/quant.h"

namespace natter {

namespace {

void check_shape(const GgufFile& file, const GgufTensor& t, std::vector<int64_t> expected) {
    if (t.shape != expected) {
        throw Error(file.path() + ": tensor '" + t.name + "' has shape " + shape_string(t.shape) +
                    ", expected " + shape_string(expected) + " from the model's hyper-parameters");
    }
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

const GgufTensor& require_tensor(const GgufFile& file, const std::string& name) {
    const GgufTensor* t = file.find_tensor(name);
    if (!t) throw Error(file.path() + ": the model has no tensor '" + name + "'");
    return *t;
}

WeightMatrix load_matrix(const GgufFile& file, const std::string& name, int64_t cols, int64_t rows) {
    const GgufTensor& t = require_tensor(file, name);
    check_shape(file, t, {cols, rows});
    if (t.type == GgmlType::Q8_1 || t.type == GgmlType::Q8_K) {
        throw Error(file.path() + ": tensor '" + name + "' has type " + std::string(type_name(t.type)) +
                    ", which is not a weight type");
    }
    return WeightMatrix{t.type, cols, rows, row_size(t.type, cols), t.data};
}

std::vector<float> load_vector(const GgufFile& file, const std::string& name, int64_t n) {
    const GgufTensor& t = require_tensor(file, name);
    check_shape(file, t, {n});
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row(t.type, t.data, v.data(), n);
    return v;
}

WeightMatrix load_optional_matrix(const GgufFile& file, const std::string& name, int64_t cols, int64_t rows) {
    return file.find_tensor(name) ? load_matrix(file, name, cols, rows) : WeightMatrix{};
}

std::vector<float> load_optional_vector(const GgufFile& file, const std::string& name, int64_t n) {
    return file.find_tensor(name) ? load_vector(file, name, n) : std::vector<float>{};
}

int positive_int(const GgufFile& file, const std::string& key, int64_t fallback) {
    const int64_t v = file.get_int(key, fallback);
    if (v <= 0 || v > (1 << 24)) {
        throw Error(file.path() + ": metadata '" + key + "' = " + std::to_string(v) + " is out of range");
    }
    return static_cast<int>(v);
}

}  // namespace natter
