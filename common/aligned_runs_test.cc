#include "common/aligned_runs.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

// Reads elements [begin, end) through ForEachAlignedRun, checking order and
// alignment on the way.
template <typename T>
std::vector<T> ReadRuns(absl::string_view bytes, int64_t begin, int64_t end) {
  std::vector<T> out;
  ForEachAlignedRun<T>(
      bytes, begin, end, [&](int64_t first, int64_t count, const T* data) {
        EXPECT_EQ(first, begin + static_cast<int64_t>(out.size()));
        EXPECT_GT(count, 0);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % alignof(T), 0u);
        out.insert(out.end(), data, data + count);
      });
  return out;
}

TEST(AlignedRunsTest, AlignedBytesAreOneRunInPlace) {
  const std::vector<float> values = {1, 2, 3, 4, 5};
  const absl::string_view bytes(reinterpret_cast<const char*>(values.data()),
                                20);
  int runs = 0;
  ForEachAlignedRun<float>(
      bytes, 1, 4, [&](int64_t first, int64_t count, const float* data) {
        ++runs;
        EXPECT_EQ(first, 1);
        EXPECT_EQ(count, 3);
        EXPECT_EQ(data, values.data() + 1);
      });
  EXPECT_EQ(runs, 1);
}

TEST(AlignedRunsTest, UnalignedBytesReadEveryElementOnceInOrder) {
  std::mt19937 random(7);
  std::vector<double> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5 * i - 7;
  // The bytes at an odd address, as in a protobuf string or after a header.
  std::string storage(values.size() * sizeof(double) + 1, '#');
  std::memcpy(storage.data() + 1, values.data(),
              values.size() * sizeof(double));
  const absl::string_view bytes = absl::string_view(storage).substr(1);
  EXPECT_EQ(ReadRuns<double>(bytes, 0, 5000), values);
  EXPECT_TRUE(ReadRuns<double>(bytes, 3, 3).empty());
  for (int trial = 0; trial < 100; ++trial) {
    const int64_t begin =
        std::uniform_int_distribution<int64_t>(0, 5000)(random);
    const int64_t end =
        std::uniform_int_distribution<int64_t>(begin, 5000)(random);
    ASSERT_EQ(ReadRuns<double>(bytes, begin, end),
              std::vector<double>(values.begin() + begin, values.begin() + end))
        << "trial " << trial;
  }
}

}  // namespace
}  // namespace paramserver
