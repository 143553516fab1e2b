#include "server/durability/data_dir_identity.h"

#include <fstream>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/durable_store_testing.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TEST(DataDirIdentityTest, FirstStartNeedsInitialize) {
  const std::string dir = FreshDir("first_start");
  absl::Status refused = ClaimDataDir(dir, {"demo", 1, 3}, false).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr(dir));
  EXPECT_THAT(refused.message(), HasSubstr("shard 1 of 3 of job 'demo'"));
  EXPECT_THAT(refused.message(), HasSubstr("--initialize_data_dir"));
  EXPECT_FALSE(PathExists(dir));  // Refusing creates nothing.

  absl::StatusOr<DataDirIdentity> made =
      ClaimDataDir(dir, {"demo", 1, 3}, true);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->place, (ShardPlace{"demo", 1, 3}));
  EXPECT_EQ(made->incarnation.size(), 32u);

  // Later starts find the same identity, flag or not.
  for (bool initialize : {false, true}) {
    absl::StatusOr<DataDirIdentity> again =
        ClaimDataDir(dir, {"demo", 1, 3}, initialize);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->incarnation, made->incarnation);
  }
}

TEST(DataDirIdentityTest, AnEmptyDirectoryIsLostData) {
  // A mount point whose volume is missing: the directory is there, with
  // nothing of ours in it (ext4's lost+found, say).
  const std::string dir = FreshDir("empty_mount");
  ASSERT_TRUE(CreateDirectories(JoinPath(dir, "lost+found")).ok());
  EXPECT_EQ(ClaimDataDir(dir, {"", 0, 1}, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DataDirIdentityTest, RefusesAnotherPlace) {
  const std::string dir = FreshDir("other_place");
  ASSERT_TRUE(ClaimDataDir(dir, {"demo", 1, 3}, true).ok());
  for (const ShardPlace& other :
       {ShardPlace{"demo", 2, 3}, ShardPlace{"demo", 1, 4},
        ShardPlace{"other", 1, 3}}) {
    absl::Status s = ClaimDataDir(dir, other, true).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("holds shard 1 of 3 of job 'demo'"));
    EXPECT_THAT(s.message(), HasSubstr("started as " + other.ToString()));
  }
}

TEST(DataDirIdentityTest, AdoptsADirectoryFromBeforeIdentities) {
  const std::string dir = FreshDir("old_layout");
  ASSERT_TRUE(CreateDirectories(JoinPath(dir, "wal")).ok());
  ASSERT_TRUE(
      WriteFileAtomically(JoinPath(dir, "wal"), "wal-1.log", "records").ok());
  absl::StatusOr<DataDirIdentity> adopted =
      ClaimDataDir(dir, {"demo", 0, 2}, false);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_TRUE(PathExists(JoinPath(dir, kIdentityFileName)));
  EXPECT_EQ(ClaimDataDir(dir, {"demo", 1, 2}, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DataDirIdentityTest, ADamagedIdentityIsAnError) {
  const std::string dir = FreshDir("damaged");
  ASSERT_TRUE(CreateDirectories(dir).ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir, kIdentityFileName, "shard_index x\n").ok());
  EXPECT_EQ(ClaimDataDir(dir, {"", 0, 1}, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      WriteFileAtomically(dir, kIdentityFileName, "shard_index 0\n").ok());
  EXPECT_THAT(ClaimDataDir(dir, {"", 0, 1}, true).status().message(),
              HasSubstr("lacks"));
}

}  // namespace
}  // namespace paramserver
