#include "server/push_buffer_pool.h"

#include "gtest/gtest.h"

namespace paramserver {
namespace {

constexpr size_t kMiB = 1 << 20;

TEST(PushBufferPoolTest, ABufferGivenBackServesTheNextTakeOfItsSize) {
  PushBufferPool pool(64 * kMiB);
  std::string first = pool.Take(4 * kMiB);
  EXPECT_TRUE(first.empty());
  EXPECT_GE(first.capacity(), 4 * kMiB);
  first.append(4 * kMiB, 'x');
  const char* memory = first.data();
  pool.Give(std::move(first));
  EXPECT_GE(pool.kept_bytes(), static_cast<int64_t>(4 * kMiB));

  std::string second = pool.Take(4 * kMiB);
  EXPECT_EQ(second.data(), memory);  // The same memory, already faulted in.
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(pool.kept_bytes(), 0);
}

TEST(PushBufferPoolTest, KeepsNoMoreThanItsLimitByFreeingTheOldest) {
  PushBufferPool pool(10 * kMiB);
  std::string a = pool.Take(4 * kMiB);
  std::string b = pool.Take(4 * kMiB);
  std::string big = pool.Take(6 * kMiB);
  const char* memory_of_b = b.data();
  const char* memory_of_big = big.data();
  pool.Give(std::move(a));
  pool.Give(std::move(b));
  const int64_t both = pool.kept_bytes();
  EXPECT_GE(both, static_cast<int64_t>(8 * kMiB));
  // The 6 MiB one fits only without a, the oldest.
  pool.Give(std::move(big));
  EXPECT_LE(pool.kept_bytes(), static_cast<int64_t>(10 * kMiB));
  EXPECT_EQ(pool.Take(6 * kMiB).data(), memory_of_big);
  EXPECT_EQ(pool.Take(4 * kMiB).data(), memory_of_b);
  EXPECT_EQ(pool.kept_bytes(), 0);
  // A buffer larger than the whole limit is not kept at all.
  PushBufferPool small_pool(1 * kMiB);
  small_pool.Give(small_pool.Take(2 * kMiB));
  EXPECT_EQ(small_pool.kept_bytes(), 0);
}

TEST(PushBufferPoolTest, DoesNotHandOutAFarLargerBufferOrKeepSmallOnes) {
  PushBufferPool pool(64 * kMiB);
  pool.Give(pool.Take(16 * kMiB));
  std::string small = pool.Take(1 * kMiB);  // Kept one is 16x larger.
  EXPECT_LT(small.capacity(), 16 * kMiB);
  EXPECT_GE(pool.kept_bytes(), static_cast<int64_t>(16 * kMiB));

  PushBufferPool tiny_pool(64 * kMiB);
  tiny_pool.Give(std::string(100, 'x'));
  EXPECT_EQ(tiny_pool.kept_bytes(), 0);
}

}  // namespace
}  // namespace paramserver
