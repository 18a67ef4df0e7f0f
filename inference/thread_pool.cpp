#include "inference/thread_pool.h"

#include <sched.h>

#include <chrono>
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

// How long a waiting thread spins (with pause) before it gives its core away, adapted to
// how waits have been going. A forward pass hands out a job every few to a few tens of
// microseconds; while the threads have cores to themselves (even beside a background job),
// a waiter that spins up to kMaxSpinNs is almost never late, whereas one that gave its core
// away with sched_yield would lose a whole time slice (~1 ms) to even a nice-19 process.
// But when there are more runnable threads than cores (two programs, tests run in
// parallel), the thread waited for is often not running at all, and spinning only burns the
// time it needs: there every wait that runs out halves the budget (down to kMinSpinNs), and
// the waiter yields, then sleeps on a futex (so that an idle chat costs no CPU). A wait that
// ends while spinning doubles it again.
constexpr int64_t kMinSpinNs = 2'000;
constexpr int64_t kMaxSpinNs = 200'000;
constexpr int kYields = 16;

// Spins until done() or the budget is spent; adapts the budget; returns done().
template <typename Done>
bool spin_until(int64_t& budget_ns, Done done) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        for (int i = 0; i < 32; ++i) {
            if (done()) {
                budget_ns = std::min(kMaxSpinNs, budget_ns * 2);
                return true;
            }
            NATTER_PAUSE();
        }
        if (std::chrono::steady_clock::now() - start >= std::chrono::nanoseconds(budget_ns)) break;
    }
    budget_ns = std::max(kMinSpinNs, budget_ns / 2);
    return done();
}

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
    // The workers are running their parts: spin, and only when they take long (more threads
    // than free cores) sleep until the last one is done.
    if (spin_until(main_spin_ns_, [this] { return pending_.load(std::memory_order_acquire) == 0; })) return;
    while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    int64_t spin_ns = kMaxSpinNs;
    for (;;) {
        uint32_t now = generation_.load(std::memory_order_acquire);
        if (now == seen) {
            spin_until(spin_ns, [&] { return (now = generation_.load(std::memory_order_acquire)) != seen; });
            for (int i = 0; now == seen && i < kYields; ++i) {
                std::this_thread::yield();
                now = generation_.load(std::memory_order_acquire);
            }
            while (now == seen) {
                generation_.wait(seen, std::memory_order_acquire);
                now = generation_.load(std::memory_order_acquire);
            }
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
