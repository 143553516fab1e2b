// Partitioned variables are whole or absent, against three real ps_server
// processes: two workers creating one while a shard is frozen get one whole
// variable; a creation that failed half-way is invisible, adopted by the
// next auto-reuse and removed by deleting the whole name; and any client,
// psctl too, reads, pulls, pushes and deletes it by its whole name.
#include <signal.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/shard_placement.h"
#include "client/sharded_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"
#include "tests/sharded_cluster.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

VariableRequest Table(const std::string& name, TensorShape shape) {
  VariableRequest request;
  request.scope = "emb";
  request.name = name;
  request.shape = std::move(shape);
  request.reuse = ReuseMode::kAutoReuse;
  request.initializer.kind = InitializerKind::kRandomUniform;
  request.initializer.seed = 7;
  return request;
}

std::unique_ptr<ShardedClient> Worker(const std::vector<std::string>& targets,
                                      absl::Duration timeout) {
  ClientOptions options = JobOptions();
  options.timeout = timeout;
  auto client = ShardedClient::Connect(targets, options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class PartitionedCommitE2ETest : public ShardedE2ETest {
 protected:
  // Every name under `prefix` on every shard, sorted.
  std::vector<std::string> NamesOnShards(const std::string& prefix) {
    std::vector<std::string> names;
    for (int s = 0; s < kShards; ++s) {
      auto listed = direct_[s]->ListVariables(prefix);
      EXPECT_TRUE(listed.ok()) << listed.status();
      if (!listed.ok()) continue;
      for (const VariableInfo& info : *listed) names.push_back(info.name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Freezes the shard holding part `part` of `full_name`; returns it.
  int Freeze(const std::string& full_name, int part) {
    const int shard = ShardForPartition(full_name, part, kShards);
    // Every thread stopped before a worker calls: a CI stage once saw a
    // creation succeed against a shard whose SIGSTOP had not yet taken.
    EXPECT_TRUE(StopAndWait(servers_[shard]->pid()));
    return shard;
  }
  void Thaw(int shard) { kill(servers_[shard]->pid(), SIGCONT); }
};

TEST_F(PartitionedCommitE2ETest,
       TwoCreatorsAndAFrozenShardGiveOneWholeVariable) {
  const std::string full = "emb/race1";
  const int frozen = Freeze(full, 1);
  auto a = Worker(targets_, absl::Seconds(3));
  auto b = Worker(targets_, absl::Seconds(30));
  ASSERT_TRUE(a && b);
  absl::StatusOr<PartitionedVariable> b_result = absl::UnknownError("not run");
  std::thread b_thread([&] {
    b_result = b->GetPartitionedVariable(Table("race1", {6, 4}), 3, true);
  });
  // A gives up on the frozen shard; B is still waiting for it.
  absl::StatusOr<PartitionedVariable> a_result =
      a->GetPartitionedVariable(Table("race1", {6, 4}), 3);
  EXPECT_EQ(a_result.status().code(), absl::StatusCode::kDeadlineExceeded)
      << a_result.status();
  Thaw(frozen);
  b_thread.join();
  ASSERT_TRUE(b_result.ok()) << b_result.status();
  EXPECT_TRUE(b_result->created);
  EXPECT_EQ(b_result->info.version, 3);

  // B reads what it made; so does a worker that did not make it.
  auto read = b->ReadVariable(full);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->value, b_result->value);
  auto fresh = Worker(targets_, absl::Seconds(30));
  auto pulled = fresh->Pull({{full, 0}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ((*pulled)[0].value, b_result->value);
  EXPECT_EQ((*pulled)[0].info.shape, (TensorShape{6, 4}));
  // Three parts and the descriptor, no orphan.
  EXPECT_THAT(NamesOnShards(full),
              ElementsAre("emb/race1/.partitions", "emb/race1/part_0",
                          "emb/race1/part_1", "emb/race1/part_2"));
}

TEST_F(PartitionedCommitE2ETest,
       AFailedCreationIsInvisibleThenAdoptedOrDeleted) {
  for (const bool adopt : {true, false}) {
    const std::string name = adopt ? "half1" : "half2";
    const std::string full = "emb/" + name;
    const int frozen = Freeze(full, 2);
    auto a = Worker(targets_, absl::Seconds(2));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->GetPartitionedVariable(Table(name, {6, 4}), 3).status().code(),
              absl::StatusCode::kDeadlineExceeded);
    Thaw(frozen);
    auto reader = Worker(targets_, absl::Seconds(30));
    // Not committed: no reader sees it, whatever parts exist.
    EXPECT_EQ(reader->ReadVariable(full).status().code(),
              absl::StatusCode::kNotFound);
    VariableRequest reuse = Table(name, {6, 4});
    reuse.reuse = ReuseMode::kReuse;
    absl::Status reused = reader->GetPartitionedVariable(reuse, 3).status();
    EXPECT_EQ(reused.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(reused.message()),
                HasSubstr("PartitionedVariable " + full + " does not exist"));
    if (adopt) {
      auto adopted = reader->GetPartitionedVariable(Table(name, {6, 4}), 3);
      ASSERT_TRUE(adopted.ok()) << adopted.status();
      EXPECT_TRUE(adopted->created);
      EXPECT_TRUE(reader->ReadVariable(full).ok());
    } else {
      auto deleted = reader->DeleteVariable(full);
      ASSERT_TRUE(deleted.ok()) << deleted.status();
      EXPECT_FALSE(deleted->empty());
      EXPECT_TRUE(NamesOnShards(full).empty());
    }
  }
}

TEST_F(PartitionedCommitE2ETest, AnyClientUsesTheWholeName) {
  VariableRequest ones = Table("table", {9, 2});
  ones.initializer = {};
  ones.initializer.kind = InitializerKind::kOnes;
  ASSERT_TRUE(client_->GetPartitionedVariable(ones, 3).ok());
  const std::string full = "emb/table";

  // Another worker pushes to and pulls the whole name.
  auto other = Worker(targets_, absl::Seconds(30));
  std::vector<float> twos(18, 2.0f);
  const std::string bytes(reinterpret_cast<const char*>(twos.data()),
                          twos.size() * sizeof(float));
  PushSpec push;
  push.updates.push_back({full, UpdateKind::kAssignAdd, bytes, std::nullopt});
  auto pushed = other->Push(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ((*pushed)[0].version, 6);  // Three parts, two versions each.
  auto pulled = other->Pull({{full, 0}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  std::vector<float> values(18);
  ASSERT_EQ((*pulled)[0].value.size(), values.size() * sizeof(float));
  std::memcpy(values.data(), (*pulled)[0].value.data(),
              (*pulled)[0].value.size());
  EXPECT_EQ(values, std::vector<float>(18, 3.0f));

  // psctl reads and deletes it by its whole name.
  const std::string servers = "--servers=" + absl::StrJoin(targets_, ",");
  CommandResult read = RunCommand({PsctlBinary(), servers, "read", full});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_THAT(read.out, HasSubstr(R"("name":"emb/table","shape":[9,2])"));
  CommandResult deleted = RunCommand({PsctlBinary(), servers, "delete", full});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(NamesOnShards(full).empty());
  EXPECT_EQ(client_->ReadVariable(full).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace paramserver
