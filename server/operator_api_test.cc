#include "server/operator_api.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Status = VariableStore::VariableStatus;

Status Described(const std::string& name, int64_t elements,
                 bool is_slot = false, int64_t seconds = 100) {
  Status status;
  status.info.name = name;
  status.info.shape = {elements};
  status.info.version = 3;
  status.is_slot = is_slot;
  status.last_update = absl::FromUnixSeconds(seconds);
  return status;
}

const NameFilter kEverything = [](absl::string_view) { return true; };

template <typename T>
absl::string_view Bytes(const std::vector<T>& values) {
  return absl::string_view(reinterpret_cast<const char*>(values.data()),
                           values.size() * sizeof(T));
}

TEST(ScopeJsonTest, ListsOneLevelWithTotalsAndSlotsUnderTheirVariable) {
  const std::vector<Status> under = {
      Described("net/conv1/b", 4, false, 50),
      Described("net/conv1/w", 10, false, 70),
      Described("net/conv1/w/Momentum", 10, true, 70),
      Described("net/head/deep/v", 2, false, 90),
      Described("net/head/deep/v/Adam", 2, true, 90),
  };
  const std::string json = ScopeJson("net", under, kEverything);
  EXPECT_THAT(json, HasSubstr("{\"scope\":\"net\",\"variables\":3,"
                              "\"bytes\":112,"));
  EXPECT_THAT(json, HasSubstr("{\"kind\":\"scope\",\"name\":\"net/conv1\","
                              "\"variables\":2,\"bytes\":96,"
                              "\"last_update\":70}"));
  EXPECT_THAT(json, HasSubstr("{\"kind\":\"scope\",\"name\":\"net/head\","
                              "\"variables\":1,\"bytes\":16,"
                              "\"last_update\":90}"));
  EXPECT_THAT(json, HasSubstr("\"children_left_out\":0}"));

  const std::string conv1 = ScopeJson("net/conv1", under, kEverything);
  EXPECT_THAT(conv1, HasSubstr("\"name\":\"net/conv1/w\",\"shape\":[10],"
                               "\"dtype\":\"float32\",\"bytes\":40,"
                               "\"version\":3,\"trainable\":true,"
                               "\"last_update\":70,\"slots\":1,"
                               "\"slot_bytes\":40}"));
  EXPECT_THAT(conv1, Not(HasSubstr("Momentum")));
  // Scopes come before variables, each by name.
  EXPECT_LT(conv1.find("net/conv1/b"), conv1.find("net/conv1/w"));
}

TEST(ScopeJsonTest, LeavesOutWhatTheFilterRefusesAndCapsChildren) {
  std::vector<Status> under = {Described("tower0/w", 1),
                               Described("tower1/w", 1),
                               Described("tower1/w/Momentum", 1, true)};
  const std::string confined = ScopeJson("", under, [](absl::string_view name) {
    return absl::StartsWith(name, "tower0/");
  });
  EXPECT_THAT(confined, HasSubstr("\"variables\":1,\"bytes\":4,"));
  EXPECT_THAT(confined, Not(HasSubstr("tower1")));

  under.clear();
  for (int i = 0; i < 5; ++i) {
    under.push_back(Described(absl::StrCat("s/v", i), 1));
  }
  const std::string capped = ScopeJson("s", under, kEverything, 2);
  EXPECT_THAT(capped, HasSubstr("\"s/v1\""));
  EXPECT_THAT(capped, Not(HasSubstr("\"s/v2\"")));
  EXPECT_THAT(capped, HasSubstr("\"children_left_out\":3}"));
  // Totals still count every child.
  EXPECT_THAT(capped, HasSubstr("\"variables\":5,"));
}

TEST(HistogramOfTest, EqualWidthBucketsFromMinToMax) {
  std::vector<float> values(100);
  std::iota(values.begin(), values.end(), 0.0f);  // 0..99
  const ValueHistogram histogram =
      HistogramOf(DType::kFloat, Bytes(values), 10);
  EXPECT_EQ(histogram.elements, 100u);
  EXPECT_EQ(histogram.sampled, 100u);
  EXPECT_EQ(histogram.min, 0);
  EXPECT_EQ(histogram.max, 99);
  EXPECT_DOUBLE_EQ(histogram.mean, 49.5);
  EXPECT_NEAR(histogram.stddev, 28.866, 1e-3);
  EXPECT_DOUBLE_EQ(histogram.bucket_width, 9.9);
  // [0, 9.9) holds 0..9, ..., the last bucket is closed and holds 90..99.
  EXPECT_THAT(histogram.counts,
              ElementsAre(10, 10, 10, 10, 10, 10, 10, 10, 10, 10));
}

TEST(HistogramOfTest, CountsNonFiniteApartAndOneBucketForEqualValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {2, nan, 2, inf, 2};
  const ValueHistogram histogram = HistogramOf(DType::kFloat, Bytes(values));
  EXPECT_EQ(histogram.nonfinite, 2u);
  EXPECT_THAT(histogram.counts, ElementsAre(3));
  EXPECT_EQ(histogram.min, 2);
  EXPECT_EQ(histogram.max, 2);

  const std::vector<float> none = {nan, nan};
  EXPECT_TRUE(HistogramOf(DType::kFloat, Bytes(none)).counts.empty());
}

TEST(HistogramOfTest, HugeAndTinyRangesStayInBounds) {
  const double big = std::numeric_limits<double>::max();
  const std::vector<double> huge = {-big, 0, big, big};
  const ValueHistogram wide = HistogramOf(DType::kDouble, Bytes(huge), 4);
  EXPECT_THAT(wide.counts, ElementsAre(1, 0, 1, 2));
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::vector<double> close = {0, tiny, tiny};
  const ValueHistogram narrow = HistogramOf(DType::kDouble, Bytes(close), 30);
  uint64_t total = 0;
  for (uint64_t count : narrow.counts) total += count;
  EXPECT_EQ(total, 3u);
}

TEST(HistogramOfTest, SamplesLargeValuesWithAStride) {
  const std::vector<int64_t> values(1000, 7);
  const ValueHistogram histogram =
      HistogramOf(DType::kInt64, Bytes(values), 30, /*max_samples=*/300);
  EXPECT_EQ(histogram.elements, 1000u);
  EXPECT_EQ(histogram.stride, 4u);
  EXPECT_EQ(histogram.sampled, 250u);
  EXPECT_THAT(histogram.counts, ElementsAre(250));
}

TEST(HistogramOfTest, ReadsEveryDtype) {
  const std::vector<double> doubles = {-1.5, 1.5};
  EXPECT_EQ(HistogramOf(DType::kDouble, Bytes(doubles)).min, -1.5);
  const std::vector<int32_t> ints = {-3, 5};
  EXPECT_EQ(HistogramOf(DType::kInt32, Bytes(ints)).max, 5);
  const std::vector<char> bools = {0, 1, 1};
  const ValueHistogram histogram = HistogramOf(DType::kBool, Bytes(bools), 2);
  EXPECT_THAT(histogram.counts, ElementsAre(1, 2));
}

TEST(VariableJsonTest, DetailsSlotsAndHistogram) {
  const std::vector<Status> described = {
      Described("w", 4), Described("w/Momentum", 4, true),
      Described("w/inner", 4)};  // A variable under w, not a slot.
  const std::vector<float> value = {1, 2, 3, 4};
  absl::StatusOr<std::string> json = VariableJson("w", described, Bytes(value));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"name\":\"w\",\"shape\":[4],"
                               "\"dtype\":\"float32\",\"bytes\":16,"
                               "\"version\":3,\"trainable\":true,"
                               "\"slot\":false,"));
  EXPECT_THAT(*json, HasSubstr("\"slots\":[{\"name\":\"w/Momentum\","
                               "\"bytes\":16,\"version\":3,"
                               "\"last_update\":100}]"));
  EXPECT_THAT(*json, HasSubstr("\"elements\":4,"));
  EXPECT_THAT(*json, HasSubstr("\"min\":1,\"max\":4,\"mean\":2.5,"));
  EXPECT_THAT(*json, HasSubstr("{\"left\":1,"));
  EXPECT_THAT(*json, HasSubstr(",\"right\":4,\"count\":"));

  EXPECT_TRUE(
      absl::IsNotFound(VariableJson("v", described, Bytes(value)).status()));
}

}  // namespace
}  // namespace paramserver
