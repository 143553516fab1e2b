// Push ids survive restarts: in the log's push records, and across
// checkpoints (which let older log segments go) in a kPushIds record.

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/durability.h"
#include "server/durability/durable_store_testing.h"
#include "server/durability/env.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

void Create(VariableStore& store, const std::string& name) {
  VariableRequest request;
  request.name = name;
  request.shape = TensorShape{2};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {0};
  ASSERT_TRUE(store.GetVariable(request).ok());
}

// "a" += 1 and an Adam step on "w" (so the record holds slots too), as one
// push with `id`.
PushSpec Step(const std::string& id) {
  // Static: an update's value is a view.
  static const float ones[2] = {1, 1};
  const absl::string_view bytes(reinterpret_cast<const char*>(ones),
                                sizeof(ones));
  PushSpec push;
  push.push_id = id;
  push.optimizer.kind = OptimizerKind::kAdam;
  push.optimizer.learning_rate = 0.1;
  push.updates = {{"w", UpdateKind::kApplyGradient, bytes, std::nullopt},
                  {"a", UpdateKind::kAssignAdd, bytes, std::nullopt}};
  return push;
}

std::vector<float> Read(VariableStore& store, const std::string& name) {
  auto snapshot = store.ReadVariable(name);
  EXPECT_TRUE(snapshot.ok()) << name << ": " << snapshot.status();
  if (!snapshot.ok()) return {};
  std::vector<float> values(2);
  std::memcpy(values.data(), snapshot->value->data(), 2 * sizeof(float));
  return values;
}

void ExpectSameAnswer(const std::vector<VariableInfo>& got,
                      const std::vector<VariableInfo>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].version, want[i].version);
    EXPECT_EQ(got[i].shape, want[i].shape);
    EXPECT_EQ(got[i].dtype, want[i].dtype);
    EXPECT_EQ(got[i].trainable, want[i].trainable);
  }
}

TEST(PushIdDurabilityTest, RepeatAfterRestartIsNotApplied) {
  const std::string dir = FreshDir("repeat_after_restart");
  std::vector<VariableInfo> first;
  std::vector<float> w;
  {
    Server server(dir);
    Create(*server.store, "a");
    Create(*server.store, "w");
    auto pushed = server.store->Push(Step("step-1"));
    ASSERT_TRUE(pushed.ok()) << pushed.status();
    first = *pushed;
    w = Read(*server.store, "w");
  }  // The reply is "lost": the client retries against the restarted one.
  Server server(dir);
  auto repeat = server.store->Push(Step("step-1"));
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  ExpectSameAnswer(*repeat, first);
  EXPECT_THAT(Read(*server.store, "a"), ElementsAre(1, 1));
  EXPECT_EQ(Read(*server.store, "w"), w);
  EXPECT_EQ(server.store->ReadVariable("a")->info.version, 2);
  // A new id still applies.
  ASSERT_TRUE(server.store->Push(Step("step-2")).ok());
  EXPECT_THAT(Read(*server.store, "a"), ElementsAre(2, 2));
}

// A sparse push with an id: one Adagrad step on row 1 of "w" (the record
// holds the slot's row too), or, with `whole`, an Adam step (logged as the
// whole variable and slots, kPushWithId).
RowUpdateSpec RowStep(const std::string& id, bool whole = false) {
  static const int64_t kRow[1] = {1};
  static const float kGradient[2] = {1, 1};
  RowUpdateSpec push;
  push.name = "w";
  push.kind = UpdateKind::kApplyGradient;
  push.optimizer.kind = whole ? OptimizerKind::kAdam : OptimizerKind::kAdagrad;
  push.optimizer.learning_rate = 0.1;
  push.ids = kRow;
  push.rows = absl::string_view(reinterpret_cast<const char*>(kGradient),
                                sizeof(kGradient));
  push.push_id = id;
  return push;
}

// "w" as [2, 2], so that a row is two floats.
void CreateTable(VariableStore& store) {
  VariableRequest request;
  request.name = "w";
  request.shape = TensorShape{2, 2};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {0};
  ASSERT_TRUE(store.GetVariable(request).ok());
}

std::vector<float> ReadAll(VariableStore& store, const std::string& name) {
  auto snapshot = store.ReadVariable(name);
  EXPECT_TRUE(snapshot.ok()) << name << ": " << snapshot.status();
  if (!snapshot.ok()) return {};
  std::vector<float> values(snapshot->value->size() / sizeof(float));
  std::memcpy(values.data(), snapshot->value->data(), snapshot->value->size());
  return values;
}

TEST(PushIdDurabilityTest, RowPushRepeatedAfterRestartIsNotApplied) {
  for (const bool whole : {false, true}) {
    SCOPED_TRACE(whole ? "Adam (logged whole)" : "Adagrad (rows logged)");
    const std::string dir =
        FreshDir(whole ? "row_repeat_whole" : "row_repeat_rows");
    VariableInfo first;
    std::vector<float> w;
    {
      Server server(dir);
      CreateTable(*server.store);
      auto pushed = server.store->PushRows(RowStep("rows-1", whole));
      ASSERT_TRUE(pushed.ok()) << pushed.status();
      first = *pushed;
      w = ReadAll(*server.store, "w");
    }  // The reply is "lost"; the retry meets the restarted server.
    Server server(dir);
    auto repeat = server.store->PushRows(RowStep("rows-1", whole));
    ASSERT_TRUE(repeat.ok()) << repeat.status();
    ExpectSameAnswer({*repeat}, {first});
    EXPECT_EQ(ReadAll(*server.store, "w"), w);
    ASSERT_TRUE(server.store->PushRows(RowStep("rows-2", whole)).ok());
    EXPECT_NE(ReadAll(*server.store, "w"), w);
  }
}

// The reader takes a row push with an id as written, and the id's answer
// index must name one of its values.
TEST(PushIdDurabilityTest, RowPushWithIdRecordsReadBack) {
  const std::string dir = FreshDir("row_record_read_back");
  {
    Server server(dir);
    CreateTable(*server.store);
    ASSERT_TRUE(server.store->PushRows(RowStep("rows-7")).ok());
  }
  std::vector<WalRecordType> types;
  std::string id;
  std::vector<int64_t> row_ids;
  ASSERT_TRUE(ReplayWriteAheadLog(
                  JoinPath(dir, "wal"), 0,
                  [&](const WalRecord& record) {
                    types.push_back(record.type);
                    if (record.type == WalRecordType::kPushRowsWithId) {
                      id = std::string(record.push_id.id);
                      row_ids = record.row_ids;
                      EXPECT_THAT(record.push_id.answer, ElementsAre(0));
                      EXPECT_EQ(record.values.size(), 2u);
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_THAT(types, testing::Contains(WalRecordType::kPushRowsWithId));
  EXPECT_EQ(id, "rows-7");
  EXPECT_THAT(row_ids, ElementsAre(1));
}

TEST(PushIdDurabilityTest, IdsSurviveCheckpointsThatDropTheirLog) {
  const std::string dir = FreshDir("ids_across_checkpoints");
  std::vector<VariableInfo> first;
  {
    Server server(dir);
    Create(*server.store, "a");
    Create(*server.store, "w");
    auto pushed = server.store->Push(Step("old"));
    ASSERT_TRUE(pushed.ok()) << pushed.status();
    first = *pushed;
    // More checkpoints than are kept: the segment with the push is gone.
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(server.durability->Checkpoint().ok());
    ASSERT_TRUE(server.store->Push(Step("new")).ok());
  }
  EXPECT_FALSE(PathExists(JoinPath(JoinPath(dir, "wal"), WalSegmentName(0))));
  Server server(dir);
  std::vector<RememberedPush> remembered = server.store->RememberedPushes();
  ASSERT_EQ(remembered.size(), 2u);
  EXPECT_EQ(remembered[0].id, "old");
  EXPECT_EQ(remembered[1].id, "new");
  auto repeat = server.store->Push(Step("old"));
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  ExpectSameAnswer(*repeat, first);
  ASSERT_TRUE(server.store->Push(Step("new")).ok());
  EXPECT_THAT(Read(*server.store, "a"), ElementsAre(2, 2));
}

// Checkpoints racing pushes: every id acknowledged before the restart is
// remembered after it, whichever segment its push was logged in.
TEST(PushIdDurabilityTest, NoIdIsLostToACheckpointRacingThePush) {
  const std::string dir = FreshDir("ids_racing_checkpoints");
  std::set<std::string> acknowledged;
  {
    Server server(dir, FsyncPolicy::kEverySecond);
    Create(*server.store, "a");
    Create(*server.store, "w");
    std::vector<std::vector<std::string>> done(2);
    std::vector<std::thread> pushers;
    for (int t = 0; t < 2; ++t) {
      pushers.emplace_back([&, t] {
        for (int i = 0; i < 150; ++i) {
          const std::string id =
              "t" + std::to_string(t) + "-" + std::to_string(i);
          if (server.store->Push(Step(id)).ok()) done[t].push_back(id);
        }
      });
    }
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(server.durability->Checkpoint().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (std::thread& pusher : pushers) pusher.join();
    for (const auto& ids : done) acknowledged.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(acknowledged.size(), 300u);
  Server server(dir);
  std::set<std::string> remembered;
  for (const RememberedPush& push : server.store->RememberedPushes()) {
    remembered.insert(push.id);
  }
  EXPECT_EQ(remembered, acknowledged);
  EXPECT_THAT(Read(*server.store, "a"), ElementsAre(300, 300));
}

TEST(PushIdDurabilityTest, FailedPushLeavesNoIdBehind) {
  const std::string dir = FreshDir("failed_push_no_id");
  {
    Server server(dir);
    Create(*server.store, "a");
    PushSpec bad = Step("x");  // "w" does not exist: NOT_FOUND.
    EXPECT_FALSE(server.store->Push(bad).ok());
  }
  Server server(dir);
  EXPECT_TRUE(server.store->RememberedPushes().empty());
}

TEST(PushIdDurabilityTest, LogRecordsRoundTrip) {
  const std::string dir = FreshDir("records_round_trip");
  {
    auto log = WriteAheadLog::Open({dir, FsyncPolicy::kAlways}, 0);
    ASSERT_TRUE(log.ok()) << log.status();
    const LoggedValue values[] = {{"w", 3, "abcd"}, {"w/Adam_m", 2, "efgh"}};
    ASSERT_TRUE((*log)
                    ->AppendPush(values, ChangeSource::kGradient, {"id-1", {0}})
                    .ok());
    ASSERT_TRUE((*log)->AppendPush(values, ChangeSource::kGradient).ok());
    RememberedPush remembered{
        "id-0", {VariableInfo{"v", {2, 3}, DType::kDouble, 7, true}}};
    ASSERT_TRUE((*log)->AppendPushIds({remembered}).ok());
    ASSERT_TRUE((*log)->Close().ok());
  }
  std::vector<WalRecord> records;
  auto report = ReplayWriteAheadLog(dir, 0, [&](const WalRecord& record) {
    WalRecord copy = record;
    copy.values.clear();  // Views into the segment.
    records.push_back(copy);
    records.back().push_id.id = {};
    if (record.type == WalRecordType::kPushWithId) {
      EXPECT_EQ(record.push_id.id, "id-1");
      EXPECT_EQ(record.values.size(), 2u);
      EXPECT_EQ(record.values[1].value, "efgh");
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].type, WalRecordType::kPushWithId);
  EXPECT_THAT(records[1].push_id.answer, ElementsAre(0));
  EXPECT_EQ(records[2].type, WalRecordType::kPush);
  EXPECT_EQ(records[3].type, WalRecordType::kPushIds);
  ASSERT_EQ(records[3].remembered.size(), 1u);
  EXPECT_EQ(records[3].remembered[0].id, "id-0");
  const VariableInfo& info = records[3].remembered[0].answer.at(0);
  EXPECT_EQ(info.name, "v");
  EXPECT_EQ(info.shape, (TensorShape{2, 3}));
  EXPECT_EQ(info.dtype, DType::kDouble);
  EXPECT_EQ(info.version, 7);
  EXPECT_TRUE(info.trainable);
}

}  // namespace
}  // namespace paramserver
