// Dynamic tables survive restarts: their creation and changes are in the
// log, and a checkpoint logs every table again, whole, before it lets the
// older log go.

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/durability.h"
#include "server/durability/durable_store_testing.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

TableRequest Request(const std::string& name) {
  TableRequest request;
  request.name = name;
  request.reuse = ReuseMode::kAutoReuse;
  request.spec.width = 4;
  request.spec.capacity = 10000;
  request.spec.initializer.kind = InitializerKind::kRandomNormal;
  request.spec.optimizer = OptimizerKind::kFtrl;
  return request;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

// Assigns rows to ids [first, first + n), then steps FTRL on every third.
void Write(VariableStore& store, const std::string& name, int64_t first,
           int64_t n) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = first + i;
  std::vector<float> values(n * 4);
  for (size_t k = 0; k < values.size(); ++k) values[k] = 0.01f * k;
  const std::string rows = Bytes(values);
  RowUpdateSpec push;
  push.name = name;
  push.kind = UpdateKind::kAssign;
  push.ids = ids;
  push.rows = rows;
  ASSERT_TRUE(store.PushRows(push).ok());
  std::vector<int64_t> stepped;
  for (int64_t i = 0; i < n; i += 3) stepped.push_back(first + i);
  const std::string gradient =
      Bytes(std::vector<float>(stepped.size() * 4, 0.25f));
  push.kind = UpdateKind::kApplyGradient;
  push.optimizer.kind = OptimizerKind::kFtrl;
  push.ids = stepped;
  push.rows = gradient;
  ASSERT_TRUE(store.PushRows(push).ok());
}

std::string Rows(VariableStore& store, const std::string& name,
                 std::vector<int64_t> ids) {
  auto gathered = store.GatherRows(name, ids);
  EXPECT_TRUE(gathered.ok()) << gathered.status();
  if (!gathered.ok()) return "";
  return std::string(gathered->rows->data(), gathered->rows->size());
}

TEST(TableDurabilityTest, RowsSurviveRestartsAndCheckpoints) {
  const std::string dir = FreshDir("tables_restart");
  std::vector<int64_t> probe;
  for (int64_t id = 0; id < 3000; id += 7) probe.push_back(id);
  std::string before, seed_row_before;
  TableInfo info_before;
  {
    Server server(dir);
    ASSERT_TRUE(server.store->GetTable(Request("emb/users")).ok());
    ASSERT_TRUE(server.store->GetTable(Request("emb/gone")).ok());
    Write(*server.store, "emb/users", 0, 1000);
    // More checkpoints than are kept: the log with the creation is gone,
    // and only the checkpoints' dumps carry the table.
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(server.durability->Checkpoint().ok());
    }
    Write(*server.store, "emb/users", 1000, 2000);
    ASSERT_TRUE(server.store->DeleteVariable("emb/gone").ok());
    before = Rows(*server.store, "emb/users", probe);
    info_before = *server.store->GetTableInfo("emb/users");
  }
  EXPECT_FALSE(PathExists(JoinPath(JoinPath(dir, "wal"), WalSegmentName(0))));
  Server server(dir);
  auto info = server.store->GetTableInfo("emb/users");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->stats.stored_rows, 3000);
  EXPECT_EQ(info->stats.steps, info_before.stats.steps);
  EXPECT_EQ(*info->spec.initializer.seed, *info_before.spec.initializer.seed);
  EXPECT_EQ(Rows(*server.store, "emb/users", probe), before);
  EXPECT_EQ(server.store->GetTableInfo("emb/gone").status().code(),
            absl::StatusCode::kNotFound);
  // A new id's row is the one it would have had before the restart.
  auto reborn = server.store->GetTable(Request("emb/users"));
  ASSERT_TRUE(reborn.ok()) << reborn.status();
  EXPECT_FALSE(reborn->created);
}

TEST(TableDurabilityTest, AFreshIdsRowIsTheSameAfterARestart) {
  const std::string dir = FreshDir("tables_fresh_id");
  std::string first;
  {
    Server server(dir);
    ASSERT_TRUE(server.store->GetTable(Request("emb")).ok());
    first = Rows(*server.store, "emb", {123456789});
  }
  Server server(dir);
  // Not stored (a lookup's admission is not logged), yet the same row.
  EXPECT_EQ(server.store->GetTableInfo("emb")->stats.stored_rows, 0);
  EXPECT_EQ(Rows(*server.store, "emb", {123456789}), first);
}

// With a log that keeps only checkpoints (gradient steps are not logged),
// a checkpoint still carries every row: its dump is no gradient.
TEST(TableDurabilityTest, ACheckpointOnlyLogKeepsTheRowsOfTheLastCheckpoint) {
  const std::string dir = FreshDir("tables_checkpoint_only");
  std::vector<int64_t> probe;
  for (int64_t id = 0; id < 500; id += 5) probe.push_back(id);
  std::string at_checkpoint;
  {
    Server server(dir, FsyncPolicy::kCheckpointOnly);
    ASSERT_TRUE(server.store->GetTable(Request("emb")).ok());
    Write(*server.store, "emb", 0, 500);
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    at_checkpoint = Rows(*server.store, "emb", probe);
  }
  Server server(dir, FsyncPolicy::kCheckpointOnly);
  auto info = server.store->GetTableInfo("emb");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->stats.stored_rows, 500);
  EXPECT_EQ(Rows(*server.store, "emb", probe), at_checkpoint);
}

// Checkpoints while a writer steps the table: changes logged right after a
// checkpoint starts its segment come after the table's creation there, so
// the restart replays them, and the rows are the writer's last.
TEST(TableDurabilityTest, CheckpointsDuringWritesRestoreTheLastRows) {
  const std::string dir = FreshDir("tables_checkpoints_during_writes");
  std::vector<int64_t> probe;
  for (int64_t id = 0; id < 300; id += 3) probe.push_back(id);
  std::string last;
  {
    Server server(dir);
    ASSERT_TRUE(server.store->GetTable(Request("emb")).ok());
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (int round = 0; !done.load() || round < 5; ++round) {
        Write(*server.store, "emb", 0, 300);
      }
    });
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(server.durability->Checkpoint().ok());
    }
    done.store(true);
    writer.join();
    last = Rows(*server.store, "emb", probe);
  }
  Server server(dir);
  ASSERT_TRUE(server.store->GetTableInfo("emb").ok());
  EXPECT_EQ(Rows(*server.store, "emb", probe), last);
}

// Deleting a table whose sweeper is logging evictions: the delete holds the
// log's lock while it logs, and the sweeper needs it to log; the table is
// dropped (its sweeper joined) only after the delete lets go. Sweeps every
// millisecond of rows idle for a microsecond, against deletes and
// re-creations; a deadlock hangs the test (and its timeout fails it).
TEST(TableDurabilityTest, DeletingATableWhileItsSweeperLogsFinishes) {
  const std::string dir = FreshDir("tables_delete_while_sweeping");
  DurabilityOptions options;
  options.data_dir = dir;
  StoreOptions store_options;
  store_options.table_sweep_interval_micros = 1000;
  std::unique_ptr<VariableStore> store;
  auto durability = Durability::Open(options, store_options, &store);
  ASSERT_TRUE(durability.ok()) << durability.status();
  TableRequest request = Request("emb/churn");
  request.spec.ttl_micros = 1;
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(store->GetTable(request).ok());
    Write(*store, "emb/churn", 0, 300);
    absl::SleepFor(absl::Milliseconds(round % 3));
    ASSERT_TRUE(store->DeleteVariable("emb/churn").ok());
  }
  store.reset();
}

}  // namespace
}  // namespace paramserver
