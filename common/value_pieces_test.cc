#include "common/value_pieces.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

// `value`'s bytes cut at `cuts` (ascending byte offsets), each piece copied
// to its own storage at an odd address, as received bytes may lie.
class CutValue {
 public:
  CutValue(const std::string& value, const std::vector<size_t>& cuts) {
    size_t begin = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(value.size());
    for (const size_t end : ends) {
      storage_.push_back(std::string(1, '#') +
                         value.substr(begin, end - begin));
      begin = end;
    }
    for (const std::string& s : storage_)
      views_.push_back(absl::string_view(s).substr(1));
  }
  ValuePieces Pieces() const { return ValuePieces(views_); }

 private:
  std::vector<std::string> storage_;
  std::vector<absl::string_view> views_;
};

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

// Reads elements [begin, end) through ForEachRun, checking order and
// alignment on the way.
template <typename T>
std::vector<T> ReadRuns(const ValuePieces& pieces, int64_t begin, int64_t end) {
  std::vector<T> out;
  pieces.ForEachRun<T>(
      begin, end, [&](int64_t first, int64_t count, const T* data) {
        EXPECT_EQ(first, begin + static_cast<int64_t>(out.size()));
        EXPECT_GT(count, 0);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % alignof(T), 0u);
        out.insert(out.end(), data, data + count);
      });
  return out;
}

TEST(ValuePiecesTest, OneAlignedPieceIsOneRunInPlace) {
  const std::vector<float> values = {1, 2, 3, 4, 5};
  const ValuePieces pieces(
      absl::string_view(reinterpret_cast<const char*>(values.data()), 20));
  int runs = 0;
  pieces.ForEachRun<float>(
      1, 4, [&](int64_t first, int64_t count, const float* data) {
        ++runs;
        EXPECT_EQ(first, 1);
        EXPECT_EQ(count, 3);
        EXPECT_EQ(data, values.data() + 1);
      });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(pieces.size(), 20u);
}

TEST(ValuePiecesTest, ElementsSplitBetweenPiecesAndEmptyPiecesAreRead) {
  const std::vector<double> values = {1.5, -2.25, 3e10, 4, 5, 6};
  const std::string bytes = Bytes(values);
  // Cuts inside elements, an empty piece (the repeated 13), a cut on an
  // element boundary.
  const CutValue cut(bytes, {3, 13, 13, 16, 17, 47});
  const ValuePieces pieces = cut.Pieces();
  EXPECT_EQ(ReadRuns<double>(pieces, 0, 6), values);
  EXPECT_EQ(ReadRuns<double>(pieces, 2, 5),
            std::vector<double>(values.begin() + 2, values.begin() + 5));
  EXPECT_TRUE(ReadRuns<double>(pieces, 3, 3).empty());
  std::string copy(bytes.size(), '\0');
  pieces.CopyTo(copy.data());
  EXPECT_EQ(copy, bytes);
}

TEST(ValuePiecesTest, RandomCutsReadEveryElementOnceInOrder) {
  std::mt19937 random(7);
  std::vector<float> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * i - 7;
  const std::string bytes = Bytes(values);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> cuts;
    const int n = std::uniform_int_distribution<int>(0, 12)(random);
    for (int i = 0; i < n; ++i) {
      cuts.push_back(
          std::uniform_int_distribution<size_t>(0, bytes.size())(random));
    }
    std::sort(cuts.begin(), cuts.end());
    const CutValue cut(bytes, cuts);
    const ValuePieces pieces = cut.Pieces();
    ASSERT_EQ(pieces.size(), bytes.size());
    const int64_t begin =
        std::uniform_int_distribution<int64_t>(0, 5000)(random);
    const int64_t end =
        std::uniform_int_distribution<int64_t>(begin, 5000)(random);
    ASSERT_EQ(ReadRuns<float>(pieces, begin, end),
              std::vector<float>(values.begin() + begin, values.begin() + end))
        << "trial " << trial;
    std::string copy(bytes.size(), '\0');
    pieces.CopyTo(copy.data());
    ASSERT_EQ(copy, bytes);
  }
}

}  // namespace
}  // namespace paramserver
