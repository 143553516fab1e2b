#include "common/shard_place.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TEST(ShardPlaceTest, NamesItself) {
  EXPECT_EQ((ShardPlace{"demo", 1, 3}).ToString(),
            "shard 1 of 3 of job 'demo'");
  EXPECT_EQ((ShardPlace{"", 0, 1}).ToString(), "shard 0 of 1");
}

TEST(ShardPlaceTest, ValidatesIndexCountAndJob) {
  EXPECT_TRUE(ValidateShardPlace({"ps-job_1.a", 2, 3}).ok());
  EXPECT_TRUE(ValidateShardPlace({"", 0, 1}).ok());
  EXPECT_THAT(ValidateShardPlace({"", 3, 3}).message(),
              HasSubstr("between 0 and 2"));
  EXPECT_THAT(ValidateShardPlace({"", -1, 3}).message(),
              HasSubstr("between 0 and 2"));
  EXPECT_THAT(ValidateShardPlace({"", 0, 0}).message(),
              HasSubstr("between 1 and 4096"));
  EXPECT_THAT(ValidateShardPlace({"a b", 0, 1}).message(),
              HasSubstr("only letters"));
  EXPECT_THAT(ValidateShardPlace({std::string(65, 'j'), 0, 1}).message(),
              HasSubstr("at most 64"));
}

TEST(ShardPlaceTest, AcceptsTheSamePlace) {
  EXPECT_TRUE(CheckShardPlace({"demo", 1, 3}, {"demo", 1, 3}).ok());
  // An expectation without a job does not check the job.
  EXPECT_TRUE(CheckShardPlace({"demo", 1, 3}, {"", 1, 3}).ok());
}

TEST(ShardPlaceTest, NamesWhatDiffers) {
  const ShardPlace server{"demo", 2, 3};
  absl::Status order = CheckShardPlace(server, {"demo", 0, 3});
  EXPECT_EQ(order.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(order.message(),
              HasSubstr("This server is shard 2 of 3 of job 'demo', but the "
                        "client lists it as shard 0 of 3."));
  absl::Status longer = CheckShardPlace(server, {"demo", 2, 4});
  EXPECT_EQ(longer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(longer.message(), HasSubstr("the client lists 4 servers"));
  absl::Status shorter = CheckShardPlace(server, {"", 0, 1});
  EXPECT_THAT(shorter.message(), HasSubstr("the client lists 1 server "));
  absl::Status job = CheckShardPlace(server, {"other", 2, 3});
  EXPECT_EQ(job.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(job.message(), HasSubstr("not a server of job 'other'"));
}

}  // namespace
}  // namespace paramserver
