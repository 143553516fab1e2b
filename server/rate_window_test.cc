#include "server/rate_window.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(RateWindowTest, NeedsTwoReadings) {
  RateWindow window(absl::Seconds(10));
  EXPECT_FALSE(window.Read().has_value());
  window.Add(kStart, {5});
  EXPECT_FALSE(window.Read().has_value());
  window.Add(kStart + absl::Seconds(2), {9});
  std::optional<RateWindow::Rates> rates = window.Read();
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->seconds, 2);
  EXPECT_THAT(rates->per_second, ElementsAre(2));
}

TEST(RateWindowTest, SlidesOverTheLastSpan) {
  RateWindow window(absl::Seconds(10));
  // 100 per second for 20 s, then 10 per second for 10 s.
  uint64_t total = 0;
  for (int second = 0; second <= 30; ++second) {
    window.Add(kStart + absl::Seconds(second), {total, 7});
    total += second < 20 ? 100 : 10;
  }
  std::optional<RateWindow::Rates> rates = window.Read();
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->seconds, 10);
  EXPECT_THAT(rates->per_second, ElementsAre(10, 0));
}

TEST(RateWindowTest, ACounterThatShrankReadsAsZero) {
  RateWindow window(absl::Seconds(10));
  window.Add(kStart, {50});
  window.Add(kStart + absl::Seconds(1), {20});
  EXPECT_THAT(window.Read()->per_second, ElementsAre(0));
}

}  // namespace
}  // namespace paramserver
