#include "inference/thread_pool.h"

#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NATTER_PAUSE() _mm_pause()
#else
#define NATTER_PAUSE() ((void)0)
#endif

namespace natter {

namespace {

// A pause is some tens of cycles: a few thousand of them cover the gap between two matrix
// products of a token, not the time a user takes to type.
constexpr int kSpins = 256;
constexpr int kYields = 64;

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    workers_.reserve(static_cast<size_t>(n_threads_ - 1));
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    quit_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::dispatch(JobFn fn, void* ctx) {
    job_ = fn;
    job_ctx_ = ctx;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    fn(ctx, 0);
    for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
        if (i < kSpins) {
            NATTER_PAUSE();
        } else {
            std::this_thread::yield();
        }
    }
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        uint32_t now = generation_.load(std::memory_order_acquire);
        for (int i = 0; now == seen; ++i) {
            if (i < kSpins) {
                NATTER_PAUSE();
            } else if (i < kSpins + kYields) {
                std::this_thread::yield();
            } else {
                generation_.wait(seen, std::memory_order_acquire);
            }
            now = generation_.load(std::memory_order_acquire);
        }
        seen = now;
        if (quit_.load(std::memory_order_relaxed)) return;
        job_(job_ctx_, index);
        pending_.fetch_sub(1, std::memory_order_release);
    }
}

int physical_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        const unsigned n = std::thread::hardware_concurrency();
        return n == 0 ? 1 : static_cast<int>(n);
    }
    std::set<std::pair<std::string, std::string>> cores;
    int logical = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &set)) continue;
        ++logical;
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::string package, core;
        std::ifstream(dir + "physical_package_id") >> package;
        std::ifstream(dir + "core_id") >> core;
        // Without topology (some containers), count every CPU as a core.
        cores.emplace(core.empty() ? "cpu" + std::to_string(cpu) : package, core);
    }
    return std::max(1, std::min(logical, static_cast<int>(cores.size())));
}

}  // namespace natter
