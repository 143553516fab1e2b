#include "wire/shard_metadata.h"

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(ShardMetadataTest, RoundTrips) {
  const ShardPlace place{"demo", 2, 3};
  absl::StatusOr<std::optional<ShardPlace>> parsed =
      ParseExpectedPlace(FormatExpectedShard(place), "demo");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->has_value());
  EXPECT_EQ(**parsed, place);
  parsed = ParseExpectedPlace("0/1", std::nullopt);
  ASSERT_TRUE(parsed.ok() && parsed->has_value());
  EXPECT_EQ(**parsed, (ShardPlace{"", 0, 1}));
}

TEST(ShardMetadataTest, NothingSentIsNoExpectation) {
  absl::StatusOr<std::optional<ShardPlace>> parsed =
      ParseExpectedPlace(std::nullopt, std::nullopt);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->has_value());
}

TEST(ShardMetadataTest, RefusesBrokenValues) {
  for (absl::string_view bad :
       {"", "1", "a/3", "1/x", "3/3", "-1/3", "0/0", "1/3/4", "0/99999"}) {
    EXPECT_EQ(ParseExpectedPlace(bad, std::nullopt).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(ParseExpectedPlace("0/1", "bad job").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExpectedPlace(std::nullopt, "demo").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
