#include "common/bag_check.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TEST(CheckBagsTest, NamesWhatIsWrong) {
  const std::vector<int64_t> good = {0, 1, 3};
  EXPECT_TRUE(CheckBags({good, {}, Combiner::kMean}, 3).ok());
  EXPECT_TRUE(CheckBags({{}, {}, Combiner::kMean}, 0).ok());
  struct Case {
    std::vector<int64_t> offsets;
    std::vector<float> weights;
    int combiner;
    size_t ids;
    std::string message;
  };
  const Case cases[] = {
      {{1, 2}, {}, 0, 3, "bag_offsets[0] = 1; the first bag starts at 0."},
      {{0, 2, 1}, {}, 0, 3, "bag_offsets[2] = 1 is not in [2, 3]"},
      {{0, 4}, {}, 0, 3, "bag_offsets[1] = 4 is not in [0, 3]"},
      {{}, {}, 0, 2, "2 ids in no bag"},
      {{0}, {1, 2}, 0, 3, "Bags have 3 ids but 2 weights"},
      {{0}, {}, 7, 3, "Unknown combiner 7"},
  };
  for (const Case& c : cases) {
    const absl::Status status = CheckBags(
        {c.offsets, c.weights, static_cast<Combiner>(c.combiner)}, c.ids);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(BagDivisorTest, DividesAsEachCombinerSays) {
  const std::vector<int64_t> offsets = {0, 2};
  const std::vector<float> weights = {1.0f, 3.0f, 2.0f};
  EXPECT_EQ(BagDivisor({offsets, weights, Combiner::kSum}, 0, 2), 1.0f);
  EXPECT_EQ(BagDivisor({offsets, weights, Combiner::kMean}, 0, 2), 4.0f);
  EXPECT_FLOAT_EQ(BagDivisor({offsets, weights, Combiner::kSqrtn}, 0, 2),
                  std::sqrt(10.0f));
  EXPECT_EQ(BagDivisor({offsets, {}, Combiner::kMean}, 0, 2), 2.0f);
  EXPECT_EQ(BagEnd({offsets, weights, Combiner::kMean}, 0, 3), 2u);
  EXPECT_EQ(BagEnd({offsets, weights, Combiner::kMean}, 1, 3), 3u);
  EXPECT_EQ(BagWeight({offsets, {}, Combiner::kMean}, 1), 1.0f);
  EXPECT_EQ(BagWeight({offsets, weights, Combiner::kMean}, 1), 3.0f);
}

}  // namespace
}  // namespace paramserver
