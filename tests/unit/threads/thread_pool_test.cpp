// The forward pass's thread pool: every job reaches every thread exactly once, results are
// visible to the caller when run() returns, and that holds however the waits go (spinning,
// yielding, sleeping on the futex) and with more threads than cores.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "inference/thread_pool.h"

namespace natter {
namespace {

void check_many_jobs(ThreadPool& pool, int jobs, std::chrono::microseconds pause_between) {
    std::vector<int> calls(static_cast<size_t>(pool.size()), 0);  // plain ints: run() must publish them
    for (int j = 0; j < jobs; ++j) {
        pool.run([&](int index) { ++calls[static_cast<size_t>(index)]; });
        for (int i = 0; i < pool.size(); ++i) ASSERT_EQ(calls[static_cast<size_t>(i)], j + 1) << "thread " << i;
        if (pause_between.count() > 0) std::this_thread::sleep_for(pause_between);
    }
}

TEST(ThreadPool, BackToBackJobsReachEveryThreadOnce) {
    ThreadPool pool(4);
    check_many_jobs(pool, 20000, std::chrono::microseconds(0));
}

TEST(ThreadPool, JobsAfterTheWorkersWentToSleep) {
    ThreadPool pool(3);
    check_many_jobs(pool, 40, std::chrono::microseconds(3000));  // well past any spin budget
}

TEST(ThreadPool, MoreThreadsThanCores) {
    ThreadPool pool(static_cast<int>(std::thread::hardware_concurrency()) * 3 + 1);
    check_many_jobs(pool, 2000, std::chrono::microseconds(0));
}

TEST(ThreadPool, ParallelForCoversTheRangeInGrains) {
    ThreadPool pool(3);
    for (const int64_t n : {0, 1, 7, 64, 1000, 1001}) {
        std::vector<int> seen(static_cast<size_t>(n), 0);
        pool.parallel_for(n, 8, [&](int64_t begin, int64_t end, int) {
            EXPECT_EQ(begin % 8, 0);
            EXPECT_TRUE(end == n || end % 8 == 0);
            for (int64_t i = begin; i < end; ++i) ++seen[static_cast<size_t>(i)];
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << "n=" << n << " i=" << i;
    }
}

TEST(ThreadPool, OneThreadRunsOnTheCaller) {
    ThreadPool pool(1);
    const auto caller = std::this_thread::get_id();
    int calls = 0;
    pool.run([&](int index) {
        EXPECT_EQ(index, 0);
        EXPECT_EQ(std::this_thread::get_id(), caller);
        ++calls;
    });
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace natter
