// bandwidth: how fast this machine streams memory into the cores, and what that allows a
// model's text generation. Decoding one token reads every weight once, so
//     tg tokens/s <= read bandwidth / bytes read per token
// which is the ceiling `bench/compare-llamacpp` measures natter and llama.cpp against.
//
// The read kernel is STREAM-like: each thread sums its own slice of a buffer much larger
// than the caches (first touched by that same thread), with several independent
// accumulators so that loads, not additions, are the limit. The best of the repetitions is
// reported, as STREAM does: it is the rate the memory system can sustain. The threads are
// natter's own pool (inference/thread_pool.h), so thread t is the same thread every pass.
#include <CLI/CLI.hpp>
#include <immintrin.h>
#include <nlohmann/json.hpp>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/error.h"
#include "inference/gguf.h"
#include "inference/thread_pool.h"

namespace {

struct Options {
    int threads = 0;
    int size_mib = 1024;
    int reps = 10;
    int n_gen = 128;
    bool json = false;
    std::vector<std::string> models;
};

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* p, size_t n) {
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        a = _mm256_add_epi64(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
        c = _mm256_add_epi64(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
        d = _mm256_add_epi64(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_portable(const uint64_t* p, size_t n) {
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) a += p[i], b += p[i + 1], c += p[i + 2], d += p[i + 3];
    return a + b + c + d;
}

struct Bandwidth {
    int threads = 0;
    size_t bytes = 0;
    double best = 0, median = 0;  // bytes per second
};

// Every CPU this process may run on (SMT siblings too), as OpenMP's omp_get_num_procs.
int available_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Bandwidth measure(const Options& o) {
    const int threads = o.threads > 0 ? o.threads : available_cpus();
    // Whole 64-byte lines per thread, so every slice is aligned and of equal size.
    const size_t words_per_thread = (static_cast<size_t>(o.size_mib) << 20) / sizeof(uint64_t) / threads / 16 * 16;
    const size_t words = words_per_thread * threads;
    auto* raw = static_cast<uint64_t*>(std::aligned_alloc(64, words * sizeof(uint64_t)));
    if (!raw) throw natter::Error("cannot allocate the " + std::to_string(o.size_mib) + " MiB test buffer");
    std::unique_ptr<uint64_t, decltype(&std::free)> buffer(raw, &std::free);
    const bool avx2 = __builtin_cpu_supports("avx2");
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    natter::ThreadPool pool(threads);
    pool.run([&](int t) {  // first touch by the thread that will read the slice
        for (size_t i = 0; i < words_per_thread; ++i) raw[t * words_per_thread + i] = i ^ static_cast<uint64_t>(t);
    });
    std::vector<double> rates;
    for (int r = 0; r < o.reps + 1; ++r) {  // the first run is a warm-up
        const auto start = std::chrono::steady_clock::now();
        pool.run([&](int t) {
            const uint64_t* slice = raw + t * words_per_thread;
            sums[t] += avx2 ? sum_avx2(slice, words_per_thread) : sum_portable(slice, words_per_thread);
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (r > 0) rates.push_back(static_cast<double>(words * sizeof(uint64_t)) / s);
    }
    uint64_t total = 0;
    for (uint64_t s : sums) total += s;
    if (total == 42) std::fprintf(stderr, " ");  // keeps the sums, and so the reads, alive
    std::sort(rates.begin(), rates.end());
    return Bandwidth{threads, words * sizeof(uint64_t), rates.back(), rates[rates.size() / 2]};
}

// ---- bytes a model reads per generated token ------------------------------------------

struct ModelTraffic {
    std::string path;
    uint64_t weight_bytes = 0;  // every matrix and norm once, one row of the embedding
    uint64_t kv_bytes = 0;      // keys and values attention reads, averaged over the tg test
};

// llama.cpp and natter both run attention over the KV length padded to 256 (F16 cache).
uint64_t mean_padded_kv(int n_gen) {
    uint64_t sum = 0;
    for (int i = 1; i <= n_gen; ++i) sum += static_cast<uint64_t>(std::max(256, (i + 255) / 256 * 256));
    return n_gen > 0 ? sum / static_cast<uint64_t>(n_gen) : 0;
}

ModelTraffic traffic(const std::string& path, int n_gen) {
    const natter::GgufFile file = natter::GgufFile::open(path);
    ModelTraffic m{path};
    const bool tied = file.find_tensor("output.weight") == nullptr;
    for (const natter::GgufTensor& t : file.tensors()) {
        if (t.name == "token_embd.weight" && !tied) m.weight_bytes += t.nbytes / static_cast<uint64_t>(std::max<int64_t>(1, t.rows()));
        else m.weight_bytes += t.nbytes;
    }
    const std::string arch = file.get_string("general.architecture", "llama");
    const int64_t n_layer = file.get_int(arch + ".block_count", 0);
    const int64_t n_embd = file.get_int(arch + ".embedding_length", 0);
    const int64_t n_head = std::max<int64_t>(1, file.get_int(arch + ".attention.head_count", 1));
    const int64_t n_head_kv = file.get_int(arch + ".attention.head_count_kv", n_head);
    const int64_t head_dim = file.get_int(arch + ".attention.key_length", n_embd / n_head);
    m.kv_bytes = static_cast<uint64_t>(n_layer * 2 * n_head_kv * head_dim * 2) * mean_padded_kv(n_gen);
    return m;
}

void print_text(const Options& o, const Bandwidth& bw, const std::vector<ModelTraffic>& models) {
    std::printf("memory read bandwidth: %.2f GB/s best, %.2f GB/s median (%d threads, %zu MiB, %d runs)\n",
                bw.best / 1e9, bw.median / 1e9, bw.threads, bw.bytes >> 20, o.reps);
    if (models.empty()) return;
    std::printf("\n| %-44s | %12s | %10s | %16s |\n", "model", "weights MiB", "KV MiB", "tg limit (t/s)");
    std::printf("| %s | %s: | %s: | %s: |\n", std::string(44, '-').c_str(), std::string(11, '-').c_str(),
                std::string(9, '-').c_str(), std::string(15, '-').c_str());
    for (const ModelTraffic& m : models) {
        const std::string name = m.path.substr(m.path.find_last_of('/') + 1);
        std::printf("| %-44s | %12.2f | %10.2f | %16.2f |\n", name.c_str(), m.weight_bytes / 1048576.0,
                    m.kv_bytes / 1048576.0, bw.best / static_cast<double>(m.weight_bytes + m.kv_bytes));
    }
}

void print_json(const Bandwidth& bw, const std::vector<ModelTraffic>& models, int n_gen) {
    nlohmann::ordered_json j;
    j["threads"] = bw.threads;
    j["buffer_bytes"] = bw.bytes;
    j["best_bytes_per_s"] = bw.best;
    j["median_bytes_per_s"] = bw.median;
    j["n_gen"] = n_gen;
    j["models"] = nlohmann::ordered_json::array();
    for (const ModelTraffic& m : models) {
        const uint64_t per_token = m.weight_bytes + m.kv_bytes;
        j["models"].push_back({{"path", m.path}, {"weight_bytes_per_token", m.weight_bytes},
                               {"kv_bytes_per_token", m.kv_bytes}, {"bytes_per_token", per_token},
                               {"tg_limit_ts", bw.best / static_cast<double>(per_token)}});
    }
    std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Measure memory read bandwidth and the text-generation speed it allows each model", "bandwidth"};
    Options o;
    app.add_option("-t,--threads", o.threads, "Reading threads (default: all cores)")->check(CLI::Range(0, 1024));
    app.add_option("-s,--size", o.size_mib, "Buffer size in MiB (well above the caches)")->capture_default_str()->check(CLI::Range(16, 1 << 20));
    app.add_option("-r,--repetitions", o.reps, "Timed passes over the buffer")->capture_default_str()->check(CLI::Range(1, 10000));
    app.add_option("-n,--n-gen", o.n_gen, "Tokens of the tg test the KV traffic is averaged over")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app.add_flag("--json", o.json, "Print JSON");
    app.add_option("models", o.models, "GGUF models to give the tg limit for");
    CLI11_PARSE(app, argc, argv);
    try {
        std::vector<ModelTraffic> models;
        for (const std::string& m : o.models) models.push_back(traffic(m, o.n_gen));
        const Bandwidth bw = measure(o);
        if (o.json) print_json(bw, models, o.n_gen);
        else print_text(o, bw, models);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bandwidth: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
