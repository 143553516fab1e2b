// Sparse pushes through the write-ahead log: what a restart gives back, how
// many bytes one costs, and what a push that failed to log leaves.
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/file_size_limit_for_test.h"
#include "gtest/gtest.h"
#include "server/durability/durability.h"
#include "server/durability/durable_store_testing.h"
#include "server/durability/env.h"
#include "server/durability/log_format.h"

namespace paramserver {
namespace {

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

uint64_t FileSize(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size)
                                        : 0;
}

uint64_t FirstSegmentSize(const std::string& dir) {
  return FileSize(JoinPath(dir, "wal/" + WalSegmentName(0)));
}

// A rows x width float table whose element k holds k / 1000.
void CreateTable(VariableStore& store, const std::string& name, int64_t rows,
                 int64_t width) {
  VariableRequest request;
  request.name = name;
  request.shape = TensorShape{rows, width};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values.resize(rows * width);
  for (int64_t k = 0; k < rows * width; ++k) {
    request.initializer.values[k] = k / 1000.0;
  }
  ASSERT_TRUE(store.GetVariable(request).ok());
}

// The bytes and version of `name`, or "" and -1 if it does not exist.
std::pair<std::string, int64_t> Snapshot(VariableStore& store,
                                         const std::string& name) {
  auto snapshot = store.ReadVariable(name);
  if (!snapshot.ok()) return {"", -1};
  return {std::string(snapshot->value->data(), snapshot->value->size()),
          snapshot->info.version};
}

absl::Status PushRows(VariableStore& store, const std::string& name,
                      UpdateKind kind, const std::vector<int64_t>& ids,
                      const std::string& rows, OptimizerSpec optimizer = {}) {
  RowUpdateSpec push;
  push.name = name;
  push.kind = kind;
  push.ids = ids;
  push.rows = rows;
  push.optimizer = optimizer;
  return store.PushRows(push).status();
}

// One step of a sparse workload: a few ids with repeats, gradients drawn
// from `random`.
struct Step {
  std::vector<int64_t> ids;
  std::string rows;
};

Step RandomStep(std::mt19937& random, int64_t table_rows, int64_t width,
                int n) {
  std::uniform_int_distribution<int64_t> id(0, table_rows - 1);
  std::uniform_real_distribution<float> value(-1, 1);
  Step step;
  std::vector<float> rows;
  for (int i = 0; i < n; ++i) {
    // Every fourth id repeats the one before: duplicates are summed first.
    step.ids.push_back(i % 4 == 3 ? step.ids.back() : id(random));
    for (int64_t j = 0; j < width; ++j) rows.push_back(value(random));
  }
  step.rows = Bytes(rows);
  return step;
}

// Applies the same pushes to a logged store and to one without a log, then
// restarts the logged one: every table and slot comes back byte-identical.
TEST(RowsDurabilityTest, SparsePushesReplayToTheSameBytes) {
  constexpr int64_t kRows = 500, kWidth = 8;
  struct Table {
    const char* name;
    UpdateKind kind;
    OptimizerKind optimizer;
  };
  const std::vector<Table> tables = {
      {"assign", UpdateKind::kAssign, OptimizerKind::kSgd},
      {"add", UpdateKind::kAssignAdd, OptimizerKind::kSgd},
      {"sgd", UpdateKind::kApplyGradient, OptimizerKind::kSgd},
      {"momentum", UpdateKind::kApplyGradient, OptimizerKind::kMomentum},
      {"adagrad", UpdateKind::kApplyGradient, OptimizerKind::kAdagrad},
      {"ftrl", UpdateKind::kApplyGradient, OptimizerKind::kFtrl},
      {"adam", UpdateKind::kApplyGradient, OptimizerKind::kAdam},
      {"lazy_adam", UpdateKind::kApplyGradient, OptimizerKind::kLazyAdam}};
  const std::vector<std::string> slots = {
      "momentum/Momentum", "adagrad/Adagrad", "ftrl/Ftrl",
      "ftrl/Ftrl_1",       "adam/Adam",       "adam/Adam_1",
      "lazy_adam/Adam",    "lazy_adam/Adam_1"};

  const std::string dir = FreshDir("rows_replay");
  auto unlogged = *VariableStore::Create({});
  {
    Server server(dir);
    for (const Table& t : tables) {
      CreateTable(*server.store, t.name, kRows, kWidth);
      CreateTable(*unlogged, t.name, kRows, kWidth);
    }
    std::mt19937 random(7);
    for (int round = 0; round < 6; ++round) {
      // A checkpoint half way: replay starts from it, not from creation.
      if (round == 3) {
        ASSERT_TRUE(server.durability->Checkpoint().ok());
      }
      for (const Table& t : tables) {
        const Step step = RandomStep(random, kRows, kWidth, 40);
        OptimizerSpec optimizer;
        optimizer.kind = t.optimizer;
        optimizer.learning_rate = 0.05;
        optimizer.l1_regularization_strength = 0.01;
        optimizer.l2_regularization_strength = 0.02;
        ASSERT_TRUE(PushRows(*server.store, t.name, t.kind, step.ids, step.rows,
                             optimizer)
                        .ok())
            << t.name;
        ASSERT_TRUE(
            PushRows(*unlogged, t.name, t.kind, step.ids, step.rows, optimizer)
                .ok());
      }
    }
    server.durability.reset();  // As kill -9: no checkpoint at the end.
  }
  Server restarted(dir);
  for (const Table& t : tables) {
    EXPECT_EQ(Snapshot(*restarted.store, t.name), Snapshot(*unlogged, t.name))
        << t.name;
  }
  for (const std::string& slot : slots) {
    const auto want = Snapshot(*unlogged, slot);
    ASSERT_NE(want.second, -1) << slot;
    EXPECT_EQ(Snapshot(*restarted.store, slot), want) << slot;
  }
}

// What a step costs on disk: the distinct touched rows of the table and of
// each slot, not the whole table.
TEST(RowsDurabilityTest, LogBytesPerSparsePushAreTheTouchedRows) {
  constexpr int64_t kRows = 100000, kWidth = 64, kIds = 1024;
  constexpr uint64_t kRowBytes = kWidth * 4;
  struct Case {
    UpdateKind kind;
    OptimizerKind optimizer;
    const char* name;
    uint64_t values;  // Table + slots.
  };
  for (const Case& c :
       {Case{UpdateKind::kAssignAdd, OptimizerKind::kSgd, "scatter_add", 1},
        Case{UpdateKind::kApplyGradient, OptimizerKind::kAdagrad, "adagrad", 2},
        Case{UpdateKind::kApplyGradient, OptimizerKind::kFtrl, "ftrl", 3},
        Case{UpdateKind::kApplyGradient, OptimizerKind::kLazyAdam, "lazy_adam",
             3}}) {
    const std::string dir = FreshDir(std::string("rows_bytes_") + c.name);
    Server server(dir);
    CreateTable(*server.store, "emb", kRows, kWidth);
    OptimizerSpec optimizer;
    optimizer.kind = c.optimizer;
    std::mt19937 random(1);
    // The first push creates the slots, whose creation is logged whole.
    Step step = RandomStep(random, kRows, kWidth, kIds);
    ASSERT_TRUE(
        PushRows(*server.store, "emb", c.kind, step.ids, step.rows, optimizer)
            .ok());
    constexpr int kPushes = 4;
    uint64_t logged = 0, distinct = 0;
    for (int i = 0; i < kPushes; ++i) {
      step = RandomStep(random, kRows, kWidth, kIds);
      distinct += std::set<int64_t>(step.ids.begin(), step.ids.end()).size();
      const uint64_t before = FirstSegmentSize(dir);
      ASSERT_TRUE(
          PushRows(*server.store, "emb", c.kind, step.ids, step.rows, optimizer)
              .ok());
      logged += FirstSegmentSize(dir) - before;
    }
    // Each distinct row: its bytes and its 8-byte id, per variable logged.
    const uint64_t rows_bytes = c.values * distinct * kRowBytes;
    EXPECT_GE(logged, rows_bytes) << c.name;
    EXPECT_LT(logged,
              c.values * distinct * (kRowBytes + 8) + kPushes * c.values * 200)
        << c.name;
    std::cout << c.name << ": " << logged / kPushes << " log bytes per push of "
              << kIds << " ids (" << distinct / kPushes << " distinct) into a "
              << kRows << " x " << kWidth << " table of " << kRows * kRowBytes
              << " bytes\n";
  }
}

// A sparse push the log could not take (a full disk) changes nothing, in
// memory or after a restart.
TEST(RowsDurabilityTest, SparsePushThatFailedToLogLeavesNothing) {
  const std::string dir = FreshDir("rows_disk_full");
  std::pair<std::string, int64_t> table_before, slot_before;
  {
    Server server(dir);
    CreateTable(*server.store, "emb", 1000, 16);
    OptimizerSpec adagrad;
    adagrad.kind = OptimizerKind::kAdagrad;
    std::mt19937 random(3);
    Step step = RandomStep(random, 1000, 16, 64);
    ASSERT_TRUE(PushRows(*server.store, "emb", UpdateKind::kApplyGradient,
                         step.ids, step.rows, adagrad)
                    .ok());
    table_before = Snapshot(*server.store, "emb");
    slot_before = Snapshot(*server.store, "emb/Adagrad");
    step = RandomStep(random, 1000, 16, 64);
    absl::Status status;
    {
      // Room for a part of the record: the table's rows but not the slot's.
      FileSizeLimit limit(FirstSegmentSize(dir) + 64 * 16 * 4);
      status = PushRows(*server.store, "emb", UpdateKind::kApplyGradient,
                        step.ids, step.rows, adagrad);
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_EQ(Snapshot(*server.store, "emb"), table_before);
    EXPECT_EQ(Snapshot(*server.store, "emb/Adagrad"), slot_before);
    server.durability.reset();  // As kill -9: nothing more is written.
  }
  {
    Server restarted(dir);
    EXPECT_EQ(Snapshot(*restarted.store, "emb"), table_before);
    EXPECT_EQ(Snapshot(*restarted.store, "emb/Adagrad"), slot_before);
  }
}

// The log takes back a record it could not finish, so once there is room
// again the same push is applied, logged and replayed.
TEST(RowsDurabilityTest, SparsePushSucceedsOnceTheDiskHasRoomAgain) {
  const std::string dir = FreshDir("rows_disk_full_then_room");
  OptimizerSpec ftrl;
  ftrl.kind = OptimizerKind::kFtrl;
  std::mt19937 random(5);
  const Step step = RandomStep(random, 1000, 16, 64);
  std::pair<std::string, int64_t> table_after, slot_after;
  {
    Server server(dir);
    CreateTable(*server.store, "emb", 1000, 16);
    {
      FileSizeLimit limit(FirstSegmentSize(dir) + 100);
      EXPECT_EQ(PushRows(*server.store, "emb", UpdateKind::kApplyGradient,
                         step.ids, step.rows, ftrl)
                    .code(),
                absl::StatusCode::kResourceExhausted);
    }
    ASSERT_TRUE(PushRows(*server.store, "emb", UpdateKind::kApplyGradient,
                         step.ids, step.rows, ftrl)
                    .ok());
    table_after = Snapshot(*server.store, "emb");
    slot_after = Snapshot(*server.store, "emb/Ftrl_1");
    EXPECT_EQ(table_after.second, 2);
    server.durability.reset();
  }
  Server restarted(dir);
  EXPECT_EQ(Snapshot(*restarted.store, "emb"), table_after);
  EXPECT_EQ(Snapshot(*restarted.store, "emb/Ftrl_1"), slot_after);
}

}  // namespace
}  // namespace paramserver
