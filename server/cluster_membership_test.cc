#include "server/cluster_membership.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/durable_store_testing.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TEST(ClusterMembershipTest, JoinsOnceAndKeepsItInTheDataDirectory) {
  const std::string dir = FreshDir("membership");
  absl::StatusOr<DataDirIdentity> made = ClaimDataDir(dir, {"j", 0, 2}, true);
  ASSERT_TRUE(made.ok()) << made.status();
  ClusterMembership membership(dir, *made);
  EXPECT_EQ(membership.cluster(), "");
  EXPECT_EQ(*membership.Join(""), "");  // Only asks.
  EXPECT_EQ(*membership.Join("c-1"), "c-1");
  EXPECT_EQ(*membership.Join("c-1"), "c-1");
  absl::Status other = membership.Join("c-2").status();
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("belongs to cluster c-1, not c-2"));
  EXPECT_EQ(membership.Join("bad id").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(membership.Join(std::string(65, 'c')).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A restart reads it back, with the incarnation unchanged.
  absl::StatusOr<DataDirIdentity> again = ClaimDataDir(dir, {"j", 0, 2}, false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->cluster, "c-1");
  EXPECT_EQ(again->incarnation, made->incarnation);
}

TEST(ClusterMembershipTest, InMemoryOnlyWithoutADataDirectory) {
  ClusterMembership membership("", {{"", 0, 1}, "inc", ""});
  EXPECT_EQ(*membership.Join("c"), "c");
  EXPECT_EQ(membership.cluster(), "c");
}

}  // namespace
}  // namespace paramserver
