#include "common/parallel_for.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(ParallelForTest, CoversEveryItemExactlyOnce) {
  for (int64_t n : {0, 1, 7, 1000, 100003}) {
    std::vector<std::atomic<int>> seen(n);
    ParallelFor(n, 10, [&](int64_t first, int64_t last) {
      for (int64_t i = first; i < last; ++i) seen[i]++;
    });
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(seen[i].load(), 1) << n << " " << i;
  }
}

TEST(ParallelForTest, UsesOneThreadBelowTheMinimumAndNoMoreThanTheCores) {
  EXPECT_EQ(ParallelForThreads(99, 100), 1);
  EXPECT_EQ(ParallelForThreads(0, 100), 1);
  const int64_t cores = UsableCores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, std::max<int64_t>(1, std::thread::hardware_concurrency()));
  EXPECT_EQ(ParallelForThreads(int64_t{1} << 40, 1),
            std::min(cores, kMaxParallelForThreads));
}

}  // namespace
}  // namespace paramserver
