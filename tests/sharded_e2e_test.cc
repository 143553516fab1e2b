// Three real ps_server processes on loopback as the shards of one job:
// placement by name, partitioned variables split over the shards, listing and
// deletion across them, and training that survives one shard being killed and
// restarted from its data directory.
#include <signal.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

VariableRequest Zeros(const std::string& scope, const std::string& name,
                      TensorShape shape) {
  VariableRequest request;
  request.scope = scope;
  request.name = name;
  request.shape = std::move(shape);
  request.initializer.kind = InitializerKind::kZeros;
  return request;
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

TEST_F(ShardedE2ETest, EachVariableLivesOnTheShardItsNameHashesTo) {
  constexpr int kVariables = 24;
  std::vector<int> per_shard(kShards);
  for (int i = 0; i < kVariables; ++i) {
    ASSERT_TRUE(
        client_->GetVariable(Zeros("model", absl::StrCat("layer", i), {2}))
            .ok());
    const std::string name = absl::StrCat("model/layer", i);
    const int shard = client_->ShardOf(name);
    ++per_shard[shard];
    for (int s = 0; s < kShards; ++s) {
      EXPECT_EQ(direct_[s]->ReadVariable(name).ok(), s == shard)
          << name << " on " << s;
    }
  }
  for (int count : per_shard) EXPECT_GT(count, 0);
  auto listed = client_->ListVariables("model");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), kVariables);
  for (size_t i = 1; i < listed->size(); ++i)
    EXPECT_LT((*listed)[i - 1].name, (*listed)[i].name);
  // A second client, knowing nothing but the server list, finds them all.
  auto other = ShardedClient::Connect(targets_);
  ASSERT_TRUE(other.ok());
  VariableRequest reuse = Zeros("model", "layer7", {2});
  reuse.reuse = ReuseMode::kReuse;
  auto reused = (*other)->GetVariable(reuse);
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
  // TensorFlow's reuse errors come through unchanged.
  auto again = (*other)->GetVariable(Zeros("model", "layer7", {2}));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("model/layer7 already exists"));
  auto deleted = (*other)->DeleteScope("model");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->size(), kVariables);
  for (int s = 0; s < kShards; ++s)
    EXPECT_TRUE(direct_[s]->ListVariables("")->empty());
}

TEST_F(ShardedE2ETest, PartitionedVariableIsSplitOverShardsAndReassembled) {
  std::vector<float> table(10 * 4);
  for (size_t i = 0; i < table.size(); ++i) table[i] = float(i);
  VariableRequest request;
  request.scope = "emb";
  request.name = "table";
  request.shape = TensorShape{10, 4};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values.assign(table.begin(), table.end());
  request.initializer.value_shape = TensorShape{10, 4};
  auto created =
      client_->GetPartitionedVariable(request, kShards, /*return_value=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(Floats(created->value), table);
  ASSERT_EQ(created->parts.size(), 3);
  // Rows 4, 3, 3 as tf.fixed_size_partitioner(3), one part per shard.
  const int64_t first_row[] = {0, 4, 7}, rows[] = {4, 3, 3};
  std::vector<bool> shard_used(kShards);
  for (int p = 0; p < 3; ++p) {
    const std::string name = absl::StrCat("emb/table/part_", p);
    EXPECT_EQ(created->parts[p].name, name);
    EXPECT_THAT(created->parts[p].shape, ElementsAre(rows[p], 4));
    const int shard = ShardForPartition("emb/table", p, kShards);
    shard_used[shard] = true;
    auto part = direct_[shard]->ReadVariable(name);
    ASSERT_TRUE(part.ok()) << name << ": " << part.status();
    EXPECT_EQ(Floats(part->value),
              std::vector<float>(table.begin() + first_row[p] * 4,
                                 table.begin() + (first_row[p] + rows[p]) * 4));
  }
  EXPECT_THAT(shard_used, ElementsAre(true, true, true));

  // Another worker gets the same partitioned variable by reuse, and its push
  // is split by rows.
  auto worker = ShardedClient::Connect(targets_);
  ASSERT_TRUE(worker.ok());
  request.reuse = ReuseMode::kReuse;
  auto reused = (*worker)->GetPartitionedVariable(request, kShards);
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
  EXPECT_EQ(reused->info.version, 3);  // Three parts at version 1.
  const std::string ones = Bytes(std::vector<float>(40, 1.0f));
  PushSpec push;
  push.updates.push_back(
      {"emb/table", UpdateKind::kAssignAdd, ones, std::nullopt});
  auto pushed = (*worker)->Push(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ((*pushed)[0].version, 6);
  auto pulled = client_->Pull({{"emb/table", 0}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  std::vector<float> expected = table;
  for (float& x : expected) x += 1;
  EXPECT_EQ(Floats((*pulled)[0].value), expected);
  EXPECT_EQ((*pulled)[0].info.version, 6);
  EXPECT_THAT((*pulled)[0].info.shape, ElementsAre(10, 4));
  // Conditional pull: current -> unchanged; after any part moves -> the value.
  auto current = client_->Pull({{"emb/table", 6}});
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_TRUE((*current)[0].unchanged);
  PushSpec one_part;
  const std::string row_of_twos = Bytes(std::vector<float>(12, 2.0f));
  one_part.updates.push_back(
      {"emb/table/part_2", UpdateKind::kAssign, row_of_twos, std::nullopt});
  ASSERT_TRUE(
      direct_[ShardForPartition("emb/table", 2, kShards)]->Push(one_part).ok());
  auto moved = client_->Pull({{"emb/table", 6}});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_FALSE((*moved)[0].unchanged);
  EXPECT_EQ((*moved)[0].info.version, 7);
  EXPECT_EQ(Floats((*moved)[0].value).back(), 2.0f);
  // PullInto from a worker that has not seen the layout yet: each shard
  // writes its part's rows straight into the worker's buffer.
  auto reader = ShardedClient::Connect(targets_);
  ASSERT_TRUE(reader.ok());
  std::vector<float> into(40, -1.0f);
  const absl::Span<char> buffer(reinterpret_cast<char*>(into.data()),
                                into.size() * sizeof(float));
  const PullIntoItem whole[] = {{"emb/table", 0, buffer}};
  auto filled = (*reader)->PullInto(whole);
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ((*filled)[0].info.version, 7);
  EXPECT_EQ(into, Floats((*moved)[0].value));
  const PullIntoItem known[] = {{"emb/table", 7, buffer}};
  auto again = (*reader)->PullInto(known);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)[0].unchanged);
  // A value of the wrong size is refused before anything is sent.
  push.updates[0].value = absl::string_view(ones).substr(4);
  auto wrong = (*worker)->Push(push);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr("it holds 160 bytes"));

  // Listing shows the parts and the committed layout.
  auto listed = client_->ListVariables("emb");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("emb/table/.partitions", "emb/table/part_0",
                                 "emb/table/part_1", "emb/table/part_2"));
  auto deleted = client_->DeleteVariable("emb/table");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, ElementsAre("emb/table/part_0", "emb/table/part_1",
                                    "emb/table/part_2"));
  EXPECT_TRUE(client_->ListVariables("")->empty());
}

TEST_F(ShardedE2ETest, PartitionedGlorotUsesTheWholeShapesFans) {
  VariableRequest request = Zeros("", "w", {300, 10});
  request.initializer.kind = InitializerKind::kGlorotUniform;
  request.initializer.seed = 5;
  auto created =
      client_->GetPartitionedVariable(request, kShards, /*return_value=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  // Glorot's limit for [300, 10] is sqrt(6 / 310) = 0.139; a [100, 10] part
  // on its own would reach sqrt(6 / 110) = 0.234.
  float max_abs = 0;
  for (float x : Floats(created->value))
    max_abs = std::max(max_abs, std::abs(x));
  EXPECT_LE(max_abs, std::sqrt(6.0f / 310.0f));
  EXPECT_GT(max_abs, 0.12f);
  // Parts differ even though the seed is shared.
  const std::vector<float> all = Floats(created->value);
  EXPECT_NE(std::vector<float>(all.begin(), all.begin() + 1000),
            std::vector<float>(all.begin() + 1000, all.begin() + 2000));
}

TEST_F(ShardedE2ETest, FailedPartitionedCreateIsInvisibleUntilDeleted) {
  // part_1 already exists, so creating the partitioned variable fails, as in
  // TensorFlow. The parts it made are never committed: nobody sees x, and
  // deleting x removes them (never the call itself, since another worker
  // might be adopting them).
  const int shard = ShardForPartition("x", 1, kShards);
  ASSERT_TRUE(direct_[shard]->GetVariable(Zeros("x", "part_1", {2, 2})).ok());
  auto created =
      client_->GetPartitionedVariable(Zeros("", "x", {6, 2}), kShards);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(client_->ReadVariable("x").status().code(),
            absl::StatusCode::kNotFound);
  auto deleted = client_->DeleteVariable("x");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, ElementsAre("x/part_0", "x/part_1", "x/part_2"));
  auto listed = client_->ListVariables("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(ShardedE2ETest, ReusingWithFewerPartsThanExistIsAnError) {
  ASSERT_TRUE(client_->GetPartitionedVariable(Zeros("", "x", {10, 4}), 3).ok());
  // [7, 4] in 2 parts is rows 4 + 3, the same shapes as parts 0 and 1 of
  // [10, 4] in 3 parts (4 + 3 + 3); the committed layout gives it away.
  VariableRequest smaller = Zeros("", "x", {7, 4});
  smaller.reuse = ReuseMode::kAutoReuse;
  auto reused = client_->GetPartitionedVariable(smaller, 2);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reused.status().message(),
              HasSubstr("Trying to reuse partitioned variable x, but specified "
                        "shape (7, 4) and found shape (10, 4)."));
  // Reused as it was made, it is found.
  VariableRequest same = Zeros("", "x", {10, 4});
  same.reuse = ReuseMode::kReuse;
  auto found = client_->GetPartitionedVariable(same, 3);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->created);
  EXPECT_EQ(found->info.shape, (TensorShape{10, 4}));
}

TEST_F(ShardedE2ETest, PsctlListsAndDeletesAcrossShards) {
  const std::string servers = "--servers=" + absl::StrJoin(targets_, ",");
  for (int i = 0; i < 6; ++i) {
    const CommandResult got =
        RunCommand({PsctlBinary(), servers, "get", "--scope=tower",
                    "--name=v" + std::to_string(i), "--shape=2"});
    ASSERT_EQ(got.exit_code, 0) << got.err;
  }
  int on_shards = 0;
  for (int s = 0; s < kShards; ++s)
    on_shards += direct_[s]->ListVariables("tower")->size() > 0;
  EXPECT_GT(on_shards, 1);
  const CommandResult listed =
      RunCommand({PsctlBinary(), servers, "list", "tower"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> lines =
      absl::StrSplit(listed.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6) << listed.out;
  for (int i = 0; i < 6; ++i)
    EXPECT_THAT(lines[i], HasSubstr(absl::StrCat("\"tower/v", i, "\"")));
  const CommandResult read =
      RunCommand({PsctlBinary(), servers, "read", "tower/v3"});
  EXPECT_EQ(read.exit_code, 0) << read.err;
  const CommandResult deleted =
      RunCommand({PsctlBinary(), servers, "delete", "--scope=tower"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_THAT(deleted.out, HasSubstr("tower/v0"));
  EXPECT_TRUE(client_->ListVariables("")->empty());
  const CommandResult health = RunCommand({PsctlBinary(), servers, "health"});
  EXPECT_EQ(health.exit_code, 1);
  EXPECT_THAT(health.err, HasSubstr("give it --server, not --servers"));
}

// A dynamic table spread over the three shards by id: rows written through
// one worker are read by another that never met the table, every shard holds
// a share, a shard killed with SIGKILL comes back with its slice, and psctl
// shows the whole table's counters.
TEST_F(ShardedE2ETest, ADynamicTableIsSpreadOverTheShardsById) {
  TableRequest request;
  request.name = "ctr/items";
  request.reuse = ReuseMode::kCreate;
  request.spec.width = 4;
  request.spec.capacity = 30000;
  request.spec.initializer.kind = InitializerKind::kRandomUniform;
  request.spec.optimizer = OptimizerKind::kAdagrad;
  auto made = client_->GetTable(request);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->spec.capacity, 30000);
  std::vector<int64_t> ids;
  std::vector<float> values;
  for (int64_t i = 0; i < 300; ++i) {
    ids.push_back((i << 40) + i);
    for (int j = 0; j < 4; ++j) values.push_back(i + 0.25f * j);
  }
  const std::string bytes = Bytes(values);
  RowUpdateSpec assign;
  assign.name = "ctr/items";
  assign.kind = UpdateKind::kAssign;
  assign.ids = ids;
  assign.rows = bytes;
  ASSERT_TRUE(client_->PushRows(assign).ok());
  for (int s = 0; s < kShards; ++s) {
    auto slice = direct_[s]->GetTableStats("ctr/items");
    ASSERT_TRUE(slice.ok()) << slice.status();
    EXPECT_EQ(slice->spec.id_shard_index, s);
    EXPECT_GT(slice->counters.stored_rows, 50) << s;
  }

  servers_[1]->StopWith(SIGKILL);
  Restart(1);
  auto other = ShardedClient::Connect(targets_, JobOptions());
  ASSERT_TRUE(other.ok()) << other.status();
  // The first call may still meet the killed server's connection
  // (UNAVAILABLE); a gather is safe to retry.
  auto read = (*other)->GatherRows("ctr/items", ids);
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       absl::IsUnavailable(read.status()) && absl::Now() < deadline;) {
    read = (*other)->GatherRows("ctr/items", ids);
  }
  ASSERT_TRUE(read.ok()) << read.status() << servers_[1]->Log();
  EXPECT_EQ(Floats(read->rows), values);

  const CommandResult shown =
      RunCommand({PsctlBinary(), "--servers=" + absl::StrJoin(targets_, ","),
                  "table", "ctr/items"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("\"stored_rows\":300"));
  EXPECT_THAT(shown.out, HasSubstr("\"capacity\":30000"));
  EXPECT_THAT(shown.out, HasSubstr("\"id_shards\":3"));

  ASSERT_TRUE((*other)->DeleteVariable("ctr/items").ok());
  for (int s = 0; s < kShards; ++s) {
    EXPECT_EQ(direct_[s]->GetTableStats("ctr/items").status().code(),
              absl::StatusCode::kNotFound);
  }
}

TEST_F(ShardedE2ETest, SlotsAndPartsAreFoundOnTheShardsThatHoldThem) {
  ASSERT_TRUE(
      client_->GetPartitionedVariable(Zeros("emb", "table", {6, 2}), kShards)
          .ok());
  ASSERT_TRUE(client_->GetVariable(Zeros("emb", "other", {2})).ok());
  PushSpec push;
  push.optimizer.kind = OptimizerKind::kAdam;
  const std::string table_gradient = Bytes(std::vector<float>(12, 1.0f));
  const std::string other_gradient = Bytes(std::vector<float>(2, 1.0f));
  push.updates = {
      {"emb/table", UpdateKind::kApplyGradient, table_gradient, std::nullopt},
      {"emb/other", UpdateKind::kApplyGradient, other_gradient, std::nullopt}};
  ASSERT_TRUE(client_->Push(push).ok());
  // Slots live with their variable, wherever their own names would hash.
  for (const char* slot :
       {"emb/other/Adam", "emb/other/Adam_1", "emb/table/part_0/Adam",
        "emb/table/part_1/Adam_1", "emb/table/part_2/Adam"}) {
    auto read = client_->ReadVariable(slot);
    EXPECT_TRUE(read.ok()) << slot << ": " << read.status();
  }
  EXPECT_TRUE(client_->ReadVariable("emb/table/part_2").ok());
  // Deleting the partitioned variable takes its parts and their slots, and
  // nothing else under emb/.
  auto deleted = client_->DeleteVariable("emb/table");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->size(), 9);
  auto left = client_->ListVariables("emb");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3);
  EXPECT_EQ((*left)[0].name, "emb/other");
  EXPECT_EQ(client_->DeleteVariable("emb/table").status().code(),
            absl::StatusCode::kNotFound);
}

// embedding_lookup and its gradient over a table partitioned across the
// three servers: two workers at once scatter-add rows by global id (TF's mod
// strategy), and the table then reads, id for id, as an unpartitioned table
// given the same rows. The rows are multiples of 1/8, so every sum is exact
// in any order.
TEST_F(ShardedE2ETest, EmbeddingGradientsByGlobalIdReachThePartsThatOwnThem) {
  constexpr int64_t kRows = 1000, kDim = 8;
  VariableRequest ones = Zeros("emb", "users", {kRows, kDim});
  ones.initializer.kind = InitializerKind::kOnes;
  ASSERT_TRUE(client_->GetPartitionedVariable(ones, kShards).ok());
  ones.name = "users_flat";
  ASSERT_TRUE(client_->GetVariable(ones).ok());
  auto run_worker = [&](int worker) {
    auto client = ShardedClient::Connect(targets_);  // Learns the layout.
    ASSERT_TRUE(client.ok()) << client.status();
    for (int step = 0; step < 20; ++step) {
      // Ids repeat within a step and across the workers' steps.
      std::vector<int64_t> ids;
      std::vector<float> gradient;
      for (int i = 0; i < 64; ++i) {
        ids.push_back((step * 97 + i * 31 + worker * 7) % kRows);
        for (int j = 0; j < kDim; ++j) {
          gradient.push_back(0.125f * ((i + j + worker) % 5 - 2));
        }
      }
      RowUpdateSpec push;
      push.kind = UpdateKind::kAssignAdd;
      push.ids = ids;
      const std::string rows = Bytes(gradient);
      push.rows = rows;
      for (const char* name : {"emb/users", "emb/users_flat"}) {
        push.name = name;
        auto pushed = (*client)->PushRows(push);
        ASSERT_TRUE(pushed.ok()) << name << ": " << pushed.status();
      }
    }
  };
  std::thread first(run_worker, 0), second(run_worker, 1);
  first.join();
  second.join();
  std::vector<int64_t> all(kRows);
  for (int64_t i = 0; i < kRows; ++i) all[i] = i;
  auto partitioned = client_->EmbeddingLookup("emb/users", all);
  auto flat = client_->GatherRows("emb/users_flat", all);
  ASSERT_TRUE(partitioned.ok()) << partitioned.status();
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(Floats(partitioned->rows), Floats(flat->rows));
  EXPECT_EQ(flat->info.version, 1 + 2 * 20);
  // The ids of the mod strategy: row 5 is part 2's row 1.
  auto part = direct_[ShardForPartition("emb/users", 2, kShards)]->GatherRows(
      "emb/users/part_2", {1});
  ASSERT_TRUE(part.ok()) << part.status();
  auto row5 = client_->GatherRows("emb/users_flat", {5});
  ASSERT_TRUE(row5.ok()) << row5.status();
  EXPECT_EQ(part->rows, row5->rows);
}

// Each float of `actual` within `tolerance` of `expected`'s, sizes equal.
void ExpectNear(const std::vector<float>& actual,
                const std::vector<float>& expected, float tolerance,
                const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance) << what << " at " << i;
  }
}

// embedding_lookup_sparse over a table partitioned over the three shards
// pools each part's ids on its server and adds the parts' rows on the
// worker; its gradient reaches each part's rows with their bag's weights.
// Both must match one unpartitioned table given the same rows, for every
// combiner, weighted or not, and both strategies: ids repeated within a bag,
// across bags and across the parts, an empty bag, and a call whose ids no
// part but one or two holds. A malformed call changes nothing.
TEST_F(ShardedE2ETest, PooledLookupsOverPartsMatchOneTable) {
  constexpr int64_t kRows = 101, kDim = 4;
  std::vector<int64_t> all(kRows);
  std::vector<float> values;
  for (int64_t i = 0; i < kRows; ++i) {
    all[i] = i;
    for (int j = 0; j < kDim; ++j) {
      values.push_back(0.125f * ((i * 7 + j) % 17 - 8));
    }
  }
  const std::string value_bytes = Bytes(values);
  struct Bags {
    std::vector<int64_t> ids, offsets;
    std::vector<float> weights;
  };
  const Bags calls[] = {
      // {3, 4, 5, 3}, {}, {100, 0, 50, 51, 52, 100}, {7, 3}: every part.
      {{3, 4, 5, 3, 100, 0, 50, 51, 52, 100, 7, 3},
       {0, 4, 4, 10},
       {1.0f, 0.5f, 2.0f, 1.5f, 1.0f, 3.0f, 0.25f, 1.0f, 2.0f, 0.5f, 4.0f,
        0.75f}},
      // {0, 3}, {1, 4, 3}: never part 2 (mod), only part 0 (div).
      {{0, 3, 1, 4, 3}, {0, 2}, {2.0f, 1.0f, 0.5f, 1.0f, 3.0f}},
  };
  for (PartitionStrategy strategy :
       {PartitionStrategy::kMod, PartitionStrategy::kDiv}) {
    const std::string scope =
        strategy == PartitionStrategy::kMod ? "mod" : "div";
    const std::string parts = scope + "/items", flat = scope + "/flat";
    ASSERT_TRUE(client_
                    ->GetPartitionedVariable(
                        Zeros(scope, "items", {kRows, kDim}), kShards)
                    .ok());
    ASSERT_TRUE(client_->GetVariable(Zeros(scope, "flat", {kRows, kDim})).ok());
    RowUpdateSpec assign;
    assign.kind = UpdateKind::kAssign;
    assign.ids = all;
    assign.rows = value_bytes;
    assign.partition_strategy = strategy;
    for (const std::string& name : {parts, flat}) {
      assign.name = name;
      ASSERT_TRUE(client_->PushRows(assign).ok()) << name;
    }
    for (const Bags& call : calls) {
      for (Combiner combiner :
           {Combiner::kSum, Combiner::kMean, Combiner::kSqrtn}) {
        for (bool weighted : {false, true}) {
          const BagSpec bags{call.offsets,
                             weighted ? absl::Span<const float>(call.weights)
                                      : absl::Span<const float>(),
                             combiner};
          const std::string what = absl::StrCat(
              scope, " ", call.ids.size(), " ids, combiner ",
              static_cast<int>(combiner), weighted ? " weighted" : "");
          auto pooled = client_->LookupSparse(parts, call.ids, bags, strategy);
          auto expected = client_->LookupSparse(flat, call.ids, bags);
          ASSERT_TRUE(pooled.ok()) << what << ": " << pooled.status();
          ASSERT_TRUE(expected.ok()) << what << ": " << expected.status();
          ExpectNear(Floats(pooled->rows), Floats(expected->rows), 1e-6f, what);
          // Its gradient, applied with Adagrad to both.
          std::vector<float> bag_gradient;
          for (size_t b = 0; b < call.offsets.size(); ++b) {
            for (int j = 0; j < kDim; ++j) {
              bag_gradient.push_back(0.5f - 0.25f * (b + j));
            }
          }
          const std::string gradient_bytes = Bytes(bag_gradient);
          RowUpdateSpec push;
          push.kind = UpdateKind::kApplyGradient;
          push.ids = call.ids;
          push.rows = gradient_bytes;
          push.bags = bags;
          push.optimizer.kind = OptimizerKind::kAdagrad;
          push.optimizer.learning_rate = 0.5;
          push.partition_strategy = strategy;
          for (const std::string& name : {parts, flat}) {
            push.name = name;
            auto pushed = client_->PushRows(push);
            ASSERT_TRUE(pushed.ok())
                << what << " " << name << ": " << pushed.status();
          }
          auto trained = client_->EmbeddingLookup(parts, all, strategy);
          auto flat_rows = client_->GatherRows(flat, all);
          ASSERT_TRUE(trained.ok()) << trained.status();
          ASSERT_TRUE(flat_rows.ok()) << flat_rows.status();
          ExpectNear(Floats(trained->rows), Floats(flat_rows->rows), 1e-5f,
                     what + " after its gradient");
        }
      }
    }
    auto trained = client_->EmbeddingLookup(parts, all, strategy);
    ASSERT_TRUE(trained.ok()) << trained.status();
    EXPECT_NE(Floats(trained->rows), values) << scope;
    // Offsets past the ids: INVALID_ARGUMENT before anything is sent.
    const std::vector<int64_t> bad_offsets = {0, 13};
    const std::vector<float> one_row(kDim * 2, 1.0f);
    const std::string two_rows = Bytes(one_row);
    RowUpdateSpec push;
    push.name = parts;
    push.kind = UpdateKind::kApplyGradient;
    push.ids = calls[0].ids;
    push.rows = two_rows;
    push.bags = BagSpec{bad_offsets, {}, Combiner::kSum};
    push.partition_strategy = strategy;
    auto refused = client_->PushRows(push);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr("bag_offsets[1] = 13"));
    auto pooled_refused = client_->LookupSparse(
        parts, calls[0].ids, BagSpec{bad_offsets, {}, Combiner::kSum},
        strategy);
    EXPECT_EQ(pooled_refused.status().code(),
              absl::StatusCode::kInvalidArgument);
    auto unchanged = client_->EmbeddingLookup(parts, all, strategy);
    ASSERT_TRUE(unchanged.ok()) << unchanged.status();
    EXPECT_EQ(unchanged->rows, trained->rows);
    EXPECT_EQ(unchanged->info.version, trained->info.version);
  }
}

// The click model example: three workers train logistic regression over
// hashed features, its weight table partitioned over the three shards and
// updated only by sparse Adagrad pushes. The held-out log loss must close
// at least half the gap between predicting the base rate and the hidden model
// that drew the labels (it closes about 75% in 3 x 400 steps; the rest is the
// long tail of rare values, each seen a few dozen times).
TEST_F(ShardedE2ETest, ClickModelLearnsFromSparsePushesOverThreeShards) {
  const CommandResult result =
      RunCommand({"examples/train_click_model",
                  "--servers=" + absl::StrJoin(targets_, ","),
                  "--job=" + std::string(kJob), "--workers=3", "--steps=400"});
  ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
  const double before =
      NumberAfter(result.out, "held-out log loss before training ");
  const double after =
      NumberAfter(result.out, "held-out log loss after training ");
  const double base_rate = NumberAfter(result.out, "predicting the base rate ");
  const double hidden = NumberAfter(result.out, "the hidden model ");
  // Each must have been printed as a number (a diverged loss prints nan).
  ASSERT_GT(hidden, 0) << result.out;
  ASSERT_GT(base_rate, hidden) << result.out;
  ASSERT_GT(after, 0) << result.out;
  EXPECT_NEAR(before, std::log(2.0), 1e-4) << result.out;  // All zeros.
  EXPECT_LT(after, hidden + 0.5 * (base_rate - hidden)) << result.out;
  // One part per shard, each with its Adagrad accumulators, and nothing else.
  auto listed = client_->ListVariables("click");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(
      names, ElementsAre("click/weights/.partitions", "click/weights/part_0",
                         "click/weights/part_0/Adagrad", "click/weights/part_1",
                         "click/weights/part_1/Adagrad", "click/weights/part_2",
                         "click/weights/part_2/Adagrad"));
}

TEST_F(ShardedE2ETest, TrainingSurvivesAShardKilledAndRestarted) {
  const std::string servers = absl::StrJoin(targets_, ",");
  CommandResult results[2];
  std::vector<std::thread> workers;
  // Joins the workers however the test leaves (a failed ASSERT returns).
  struct Joiner {
    std::vector<std::thread>& threads;
    ~Joiner() {
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{workers};
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      results[w] = RunCommand(
          {"examples/train_image_filter", "--servers=" + servers,
           "--job=" + std::string(kJob), "--worker=" + std::to_string(w),
           "--steps=150", "--size=16", "--log_every=50", "--retry_seconds=60"});
    });
  }
  // Once training is under way, kill the shard holding conv1's weights.
  const std::string watched = "student/conv1/weights";
  const int victim = client_->ShardOf(watched);
  int64_t version_before_kill = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (version_before_kill < 20 && absl::Now() < deadline) {
    auto pulled = client_->Pull({{watched, 0}});
    if (pulled.ok()) version_before_kill = (*pulled)[0].info.version;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(version_before_kill, 20) << "training did not start";
  servers_[victim]->StopWith(SIGKILL);
  // While it is down, callers are told which shard is missing.
  auto down = client_->Pull({{watched, 0}});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(down.status().message()),
              HasSubstr(absl::StrCat("Parameter server shard ", victim,
                                     " of 3 (", targets_[victim], ")")));
  absl::SleepFor(absl::Seconds(1));
  ASSERT_NO_FATAL_FAILURE(Restart(victim));
  for (std::thread& worker : workers) worker.join();

  double first_initial = 0;
  bool a_worker_waited = false;
  for (const CommandResult& result : results) {
    ASSERT_EQ(result.exit_code, 0) << result.err;
    first_initial =
        std::max(first_initial,
                 NumberAfter(result.out, "evaluation loss before training "));
    a_worker_waited |= result.err.find(absl::StrCat(
                           "shard ", victim, " of 3")) != std::string::npos;
  }
  EXPECT_TRUE(a_worker_waited) << results[0].err << results[1].err;
  for (const CommandResult& result : results) {
    const double final_loss =
        NumberAfter(result.out, "evaluation loss after training ");
    ASSERT_GT(final_loss, 0) << result.out;
    EXPECT_LT(final_loss, 0.5 * first_initial) << result.out;
  }
  // The restarted shard kept every acknowledged update (--wal_fsync=always)
  // and the job went on past them. (A fresh client: client_'s channel to the
  // killed shard may still be in gRPC's reconnect backoff.)
  auto fresh = ShardedClient::Connect(targets_, JobOptions());
  ASSERT_TRUE(fresh.ok());
  client_ = *std::move(fresh);
  auto after = client_->Pull({{watched, 0}});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT((*after)[0].info.version, version_before_kill);
  auto listed = client_->ListVariables("student");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(),
            12);  // Four variables and their two Adam slots each.
  // Every step's push applied exactly once on every shard, however often
  // the step was retried around the kill (push ids; the retried steps
  // re-sent their gradients to the shards that had taken them): version 1 at
  // creation and one per step of each worker.
  for (const VariableInfo& info : *listed) {
    if (info.name.find("/Adam") != std::string::npos) continue;
    EXPECT_EQ(info.version, 1 + 2 * 150) << info.name;
  }
}

}  // namespace
}  // namespace paramserver
