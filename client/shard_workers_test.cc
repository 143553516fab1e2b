#include "client/shard_workers.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(ShardWorkersTest, RunsEveryShardOnceAndReturnsWhenAllAreDone) {
  ShardWorkers workers(3);
  std::vector<std::atomic<int>> calls(4);
  workers.Run({0, 1, 2, 3}, [&](int shard) { ++calls[shard]; });
  for (const std::atomic<int>& count : calls) EXPECT_EQ(count.load(), 1);
  workers.Run({}, [&](int shard) { ++calls[shard]; });
  workers.Run({2}, [&](int shard) { ++calls[shard]; });
  EXPECT_EQ(calls[2].load(), 2);
}

TEST(ShardWorkersTest, ConcurrentCallersWithoutThreads) {
  ShardWorkers workers(0);  // Callers run every call themselves.
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        workers.Run({0, 1, 2}, [&](int) { ++total; });
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(total.load(), 4 * 50 * 3);
}

TEST(ShardWorkersTest, CallsRunConcurrently) {
  ShardWorkers workers(2);
  std::atomic<int> arrived{0};
  // Each call waits for the other two: only concurrent calls finish.
  workers.Run({0, 1, 2}, [&](int) {
    ++arrived;
    while (arrived.load() < 3) std::this_thread::yield();
  });
  EXPECT_EQ(arrived.load(), 3);
}

}  // namespace
}  // namespace paramserver
