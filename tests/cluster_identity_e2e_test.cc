// A cluster that knows itself, against three real ps_server processes: a
// worker whose server list is in another order, longer or shorter, or of
// another job, is refused and creates nothing; a shard whose data directory
// was lost refuses to start until told to begin empty, and a worker that
// then misses a variable is told which shard lost it.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/client.h"
#include "client/sharded_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/env.h"
#include "tests/server_process.h"
#include "tests/sharded_cluster.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

VariableRequest Ones(const std::string& name) {
  VariableRequest request;
  request.name = name;
  request.shape = TensorShape({4});
  request.reuse = ReuseMode::kAutoReuse;
  request.initializer.kind = InitializerKind::kOnes;
  return request;
}

class ClusterIdentityE2ETest : public ShardedE2ETest {
 protected:
  // What each shard holds, checked to be where client_ places it.
  int CountVariablesAndCheckPlacement() {
    int total = 0;
    for (int s = 0; s < kShards; ++s) {
      auto listed = direct_[s]->ListVariables("");
      EXPECT_TRUE(listed.ok()) << listed.status();
      if (!listed.ok()) continue;
      for (const VariableInfo& info : *listed) {
        EXPECT_EQ(client_->ShardOf(info.name), s)
            << info.name << " was created on shard " << s;
        ++total;
      }
    }
    return total;
  }

  // Creates `names` through `worker` with auto-reuse, as a worker's first
  // step would; returns how many calls failed FAILED_PRECONDITION.
  int CreateThrough(VariableClient& worker,
                    const std::vector<std::string>& names) {
    int refused = 0;
    for (const std::string& name : names) {
      auto got = worker.GetVariable(Ones(name), false);
      if (!got.ok()) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition)
            << got.status();
        ++refused;
      }
    }
    return refused;
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (int i = 0; i < 24; ++i) names.push_back(absl::StrCat("w/v", i));
    return names;
  }
};

TEST_F(ClusterIdentityE2ETest, AListInAnotherOrderIsRefusedAndSplitsNothing) {
  const std::vector<std::string> reversed = {targets_[2], targets_[1],
                                             targets_[0]};
  auto worker = ShardedClient::Connect(reversed, JobOptions());
  ASSERT_TRUE(worker.ok());
  absl::Status checked = (*worker)->CheckCluster().status();
  EXPECT_EQ(checked.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(checked.message()),
              HasSubstr(absl::StrCat(
                  "Parameter server shard 0 of 3 (", targets_[2],
                  "): This server is shard 2 of 3 of job 'e2e', but the "
                  "client lists it as shard 0 of 3.")));
  // Even without the check, no call lands on a server at the wrong place:
  // shard 1 is where it belongs, so only names placed there are created.
  EXPECT_GT(CreateThrough(**worker, Names()), 0);
  CountVariablesAndCheckPlacement();
}

TEST_F(ClusterIdentityE2ETest, ALongerOrShorterListOrAnotherJobCreatesNothing) {
  const std::vector<std::vector<std::string>> lists = {
      {targets_[0], targets_[1], targets_[2], targets_[0]},
      {targets_[0], targets_[1]},
      {targets_[0]}};
  const std::vector<std::string> expected = {"but the client lists 4 servers",
                                             "but the client lists 2 servers",
                                             "but the client lists 1 server"};
  for (size_t i = 0; i < lists.size(); ++i) {
    auto worker = ShardedClient::Connect(lists[i], JobOptions());
    ASSERT_TRUE(worker.ok());
    absl::Status checked = (*worker)->CheckCluster().status();
    EXPECT_EQ(checked.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(checked.message()), HasSubstr(expected[i]));
    EXPECT_EQ(CreateThrough(**worker, Names()), Names().size());
  }
  ClientOptions other_job;
  other_job.job = "other";
  auto worker = ShardedClient::Connect(targets_, other_job);
  ASSERT_TRUE(worker.ok());
  EXPECT_THAT(std::string((*worker)->CheckCluster().status().message()),
              HasSubstr("not a server of job 'other'"));
  EXPECT_EQ(CreateThrough(**worker, Names()), Names().size());
  // A single-server worker (shard 0 of 1) is refused by every shard too.
  ClientOptions single;
  single.expected_place = ShardPlace{"", 0, 1};
  auto alone = ParameterServerClient::Connect(targets_[0], single);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(CreateThrough(**alone, Names()), Names().size());
  EXPECT_EQ(CountVariablesAndCheckPlacement(), 0);
}

TEST_F(ClusterIdentityE2ETest, TheRightListWorksAndIsPlacedByName) {
  EXPECT_EQ(CreateThrough(*client_, Names()), 0);
  EXPECT_EQ(CountVariablesAndCheckPlacement(), Names().size());
}

TEST_F(ClusterIdentityE2ETest, AShardThatLostItsDataIsLoud) {
  // A job's variables, on every shard.
  ASSERT_EQ(CreateThrough(*client_, Names()), 0);
  const std::string name = "w/weights";
  ASSERT_TRUE(client_->GetVariable(Ones(name), false).ok());
  const int victim = client_->ShardOf(name);
  servers_[victim]->StopWith(SIGKILL);
  ASSERT_TRUE(RemoveAll(dirs_[victim]).ok());

  // Restarting as before is refused, naming the directory and the flag.
  auto refused = ServerProcess::Start(
      ShardFlags(dirs_[victim], Port(victim), victim, false));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("The data directory ", dirs_[victim],
                                     " holds no data of shard ", victim,
                                     " of 3 of job 'e2e'")));
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("--initialize_data_dir"));

  // The operator says so; a worker that saw the shard before is told that
  // it lost its data, rather than only that the variable does not exist.
  ASSERT_NO_FATAL_FAILURE(Restart(victim, /*initialize=*/true));
  // The old channel may still be in its reconnect backoff.
  absl::StatusOr<std::vector<PulledValue>> pulled = client_->Pull({{name, 0}});
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       absl::IsUnavailable(pulled.status()) && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(100));
    pulled = client_->Pull({{name, 0}});
  }
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kDataLoss)
      << pulled.status();
  EXPECT_THAT(
      std::string(pulled.status().message()),
      HasSubstr(absl::StrCat("Parameter server shard ", victim, " of 3 (",
                             targets_[victim], "): The shard lost its data")));
  EXPECT_THAT(std::string(pulled.status().message()),
              HasSubstr("Variable w/weights does not exist"));

  // A worker that starts now never saw the shard, but the cluster has: the
  // shard came back outside the cluster the others belong to.
  auto late = ShardedClient::Connect(targets_, JobOptions());
  ASSERT_TRUE(late.ok());
  absl::Status checked = (*late)->CheckCluster().status();
  EXPECT_EQ(checked.code(), absl::StatusCode::kDataLoss) << checked;
  EXPECT_THAT(
      std::string(checked.message()),
      HasSubstr(absl::StrCat("Parameter server shard ", victim, " of 3 (",
                             targets_[victim], "): The shard lost its data")));
  EXPECT_THAT(std::string(checked.message()), HasSubstr("psctl --servers"));
  // The operator accepts it; then workers start again.
  CommandResult joined = RunCommand(
      {PsctlBinary(), "--servers=" + absl::StrJoin(targets_, ","), "join"});
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_TRUE((*late)->CheckCluster().ok());
}

TEST_F(ClusterIdentityE2ETest, ShardsShareOneClusterAndAMixIsRefused) {
  std::string cluster;
  for (int s = 0; s < kShards; ++s) {
    auto info = direct_[s]->GetServerInfo();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_FALSE(info->cluster.empty());
    if (s == 0) cluster = info->cluster;
    EXPECT_EQ(info->cluster, cluster);
  }
  // Shard 1 of another deployment of the same job.
  const std::string dir = dirs_[1] + "_other";
  auto stranger = ServerProcess::Start(ShardFlags(dir, "0", 1, true));
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  auto other = ParameterServerClient::Connect((*stranger)->target());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->JoinCluster("another-deployment").ok());
  auto mixed = ShardedClient::Connect(
      {targets_[0], (*stranger)->target(), targets_[2]}, JobOptions());
  ASSERT_TRUE(mixed.ok());
  absl::Status checked = (*mixed)->CheckCluster().status();
  EXPECT_EQ(checked.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(checked.message()),
              HasSubstr("the list mixes the shards of two deployments"));
  // A shard never leaves its cluster for another.
  EXPECT_EQ((*other)->JoinCluster(cluster).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClusterIdentityE2ETest, ADataDirectoryKeepsItsShard) {
  servers_[0]->StopWith(SIGKILL);
  // Shard 0's directory started as shard 1 is refused.
  auto swapped =
      ServerProcess::Start(ShardFlags(dirs_[0], "0", 1, /*initialize=*/true));
  ASSERT_FALSE(swapped.ok());
  EXPECT_THAT(std::string(swapped.status().message()),
              HasSubstr("holds shard 0 of 3 of job 'e2e', but this server was "
                        "started as shard 1 of 3 of job 'e2e'"));
  // Its own place is accepted, and the incarnation is kept across restarts.
  auto before = direct_[1]->GetServerInfo();
  ASSERT_TRUE(before.ok()) << before.status();
  servers_[1]->StopWith(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(Restart(1));
  auto fresh = ParameterServerClient::Connect(targets_[1]);
  ASSERT_TRUE(fresh.ok());
  auto after = (*fresh)->GetServerInfo();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->incarnation, before->incarnation);
  EXPECT_EQ(after->cluster, before->cluster);
  EXPECT_EQ(after->place, (ShardPlace{kJob, 1, kShards}));
  // Operators read the same with psctl.
  CommandResult info =
      RunCommand({PsctlBinary(), "--server=" + targets_[1], "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(
      info.out,
      HasSubstr(absl::StrCat(
          R"("job":"e2e","shard_index":1,"shard_count":3,"cluster":")",
          after->cluster, R"(","incarnation":")", after->incarnation, R"(")")));
}

}  // namespace
}  // namespace paramserver
