#pragma once
// A small persistent pool of worker threads for the forward pass. The caller is thread 0 and
// works too; run() returns when every thread has finished its part.
//
// A waiting thread (a worker between jobs, the caller for the workers) first spins, for a
// budget that adapts to how the waits go, then yields, then (a worker) sleeps on a futex: a
// forward pass runs at full speed beside background jobs, an idle chat costs no CPU, and a
// machine with more runnable threads than cores degrades gracefully (thread_pool.cpp).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace natter {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(thread_index) once on each of size() threads (index 0 on the caller).
    template <typename Fn>
    void run(Fn&& fn) {
        if (n_threads_ == 1) {
            fn(0);
            return;
        }
        using F = std::remove_reference_t<Fn>;
        dispatch([](void* ctx, int index) { (*static_cast<F*>(ctx))(index); }, const_cast<void*>(static_cast<const void*>(&fn)));
    }

    // Splits [0, n) into size() contiguous ranges, each a multiple of `grain` long (but the
    // last), and calls fn(begin, end, thread_index) for each non-empty one.
    template <typename Fn>
    void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
        const int64_t units = (n + grain - 1) / grain;
        run([&](int index) {
            const int64_t begin = std::min(n, units * index / n_threads_ * grain);
            const int64_t end = std::min(n, units * (index + 1) / n_threads_ * grain);
            if (begin < end) fn(begin, end, index);
        });
    }

private:
    using JobFn = void (*)(void* ctx, int index);
    void dispatch(JobFn fn, void* ctx);
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    JobFn job_ = nullptr;
    void* job_ctx_ = nullptr;
    std::atomic<uint32_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> quit_{false};
    int64_t main_spin_ns_ = 200'000;  // the caller's spin budget (see thread_pool.cpp)
};

// The number of physical cores this process may run on (SMT siblings counted once).
int physical_cores();

}  // namespace natter
