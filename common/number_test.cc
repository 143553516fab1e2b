#include "common/number.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

constexpr int64_t kTwoTo53 = int64_t{1} << 53;

TEST(NumberTest, IntegersStayExactBeyondTwoTo53) {
  const Number n = kTwoTo53 + 1;
  ASSERT_TRUE(n.is_integer());
  EXPECT_EQ(n.integer(), kTwoTo53 + 1);
  EXPECT_EQ(n.ToInt64(), kTwoTo53 + 1);
  EXPECT_EQ(n.ToString(), "9007199254740993");
  EXPECT_EQ(n.ToDouble(), 0x1p53);  // The double can only round.
  EXPECT_NE(n, Number(0x1p53));
  EXPECT_EQ(Number(kTwoTo53), Number(0x1p53));
}

TEST(NumberTest, LiteralsKeepTheirKind) {
  const std::vector<Number> values = {1, 2.5, int64_t{-3}, 7u};
  EXPECT_TRUE(values[0].is_integer());
  EXPECT_FALSE(values[1].is_integer());
  EXPECT_TRUE(values[2].is_integer());
  EXPECT_TRUE(values[3].is_integer());
  EXPECT_EQ(values[1].ToDouble(), 2.5);
  EXPECT_EQ(Number(3), Number(3.0));
  EXPECT_EQ(Number(), Number(0));
}

TEST(NumberTest, IsIntegerIn) {
  EXPECT_TRUE(Number(5).IsIntegerIn(0, 5));
  EXPECT_FALSE(Number(6).IsIntegerIn(0, 5));
  EXPECT_TRUE(Number(5.0).IsIntegerIn(0, 5));
  EXPECT_FALSE(Number(4.5).IsIntegerIn(0, 5));
  EXPECT_FALSE(Number(std::nan("")).IsIntegerIn(0, 5));
  EXPECT_FALSE(Number(0x1p63).IsIntegerIn(std::numeric_limits<int64_t>::min(),
                                          std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(
      Number(-0x1p63).IsIntegerIn(std::numeric_limits<int64_t>::min(), 0));
}

TEST(NumberTest, ToStringRoundTrips) {
  EXPECT_EQ(Number(0.1).ToString(), "0.1");
  EXPECT_EQ(Number(1e39).ToString(), "1e+39");
  EXPECT_EQ(Number(std::numeric_limits<int64_t>::min()).ToString(),
            "-9223372036854775808");
}

}  // namespace
}  // namespace paramserver
