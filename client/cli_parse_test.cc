#include "client/cli_parse.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

TEST(CliParseTest, Shapes) {
  EXPECT_THAT(*ParseShape("5,5,32,32"), ElementsAre(5, 5, 32, 32));
  EXPECT_THAT(*ParseShape("[2, 3]"), ElementsAre(2, 3));
  EXPECT_TRUE(ParseShape("")->empty());
  EXPECT_TRUE(ParseShape("[]")->empty());
  // Negative sizes parse; the server rejects them with its own message.
  EXPECT_THAT(*ParseShape("-1"), ElementsAre(-1));
  EXPECT_EQ(ParseShape("2,x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseShape("2,,3").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CliParseTest, Ids) {
  EXPECT_THAT(*ParseIds("3,0,3"), ElementsAre(3, 0, 3));
  EXPECT_THAT(*ParseIds("[7, -1]"), ElementsAre(7, -1));
  EXPECT_TRUE(ParseIds("")->empty());
  absl::Status bad = ParseIds("1,two").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), ::testing::HasSubstr("ids"));
}

TEST(CliParseTest, Numbers) {
  EXPECT_THAT(*ParseNumberList("1, 2.5,-3"), ElementsAre(1, 2.5, -3));
  // Integers are exact over all of int64 and stay integers; "7.0" does not.
  const std::vector<Number> exact =
      *ParseNumberList("9007199254740993,-9223372036854775808,7.0,1e3");
  ASSERT_EQ(exact.size(), 4u);
  EXPECT_TRUE(exact[0].is_integer());
  EXPECT_EQ(exact[0].integer(), (int64_t{1} << 53) + 1);
  EXPECT_EQ(exact[1].integer(), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(exact[2].is_integer());
  EXPECT_FALSE(exact[3].is_integer());
  EXPECT_EQ(exact[3], Number(1000));
  EXPECT_EQ((*ParseOptionalNumber("maxval", "9007199254740993"))->integer(),
            (int64_t{1} << 53) + 1);
  EXPECT_FALSE(ParseNumberList("1;2").ok());
  EXPECT_FALSE(ParseOptionalNumber("mean", "")->has_value());
  EXPECT_EQ(**ParseOptionalNumber("mean", "0.5"), 0.5);
  absl::Status bad = ParseOptionalNumber("stddev", "abc").status();
  EXPECT_EQ(bad.message(), "Invalid --stddev 'abc'; expected a number.");
}

TEST(CliParseTest, EnumsTakeTensorFlowNames) {
  EXPECT_EQ(*ParseReuse("false"), ReuseMode::kCreate);
  EXPECT_EQ(*ParseReuse("true"), ReuseMode::kReuse);
  EXPECT_EQ(*ParseReuse("auto"), ReuseMode::kAutoReuse);
  EXPECT_FALSE(ParseReuse("maybe").ok());
  EXPECT_EQ(*ParseInitializerKind("truncated_normal"),
            InitializerKind::kTruncatedNormal);
  EXPECT_EQ(*ParseInitializerKind("glorot_uniform"),
            InitializerKind::kGlorotUniform);
  EXPECT_FALSE(ParseInitializerKind("xavier").ok());
  EXPECT_EQ(*ParseFanMode("fan_avg"), FanMode::kFanAvg);
  EXPECT_EQ(*ParseDistribution("normal"),
            ScalingDistribution::kTruncatedNormal);
  EXPECT_EQ(*ParseDistribution("uniform"), ScalingDistribution::kUniform);
}

// TF 1.15's VarianceScaling: the distribution is lower-cased, the mode is not,
// and bad values get TF's texts.
TEST(CliParseTest, VarianceScalingArgumentsAsTensorFlow) {
  EXPECT_EQ(*ParseDistribution("Uniform"), ScalingDistribution::kUniform);
  EXPECT_EQ(*ParseDistribution("TRUNCATED_NORMAL"),
            ScalingDistribution::kTruncatedNormal);
  EXPECT_EQ(ParseFanMode("FAN_IN").status().message(),
            "Invalid `mode` argument: FAN_IN (expected fan_in, fan_out or "
            "fan_avg).");
  EXPECT_EQ(ParseDistribution("gaussian").status().message(),
            "Invalid `distribution` argument: gaussian (expected "
            "truncated_normal, normal, untruncated_normal or uniform).");
}

}  // namespace
}  // namespace paramserver
