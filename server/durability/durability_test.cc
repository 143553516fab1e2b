#include "server/durability/durability.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "common/file_size_limit_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/checkpoint.h"
#include "server/durability/durable_store_testing.h"
#include "server/durability/env.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

void Create(VariableStore& store, const std::string& name,
            std::vector<float> values) {
  VariableRequest request;
  request.name = name;
  request.shape = TensorShape{static_cast<int64_t>(values.size())};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values.assign(values.begin(), values.end());
  ASSERT_TRUE(store.GetVariable(request).ok());
}

absl::Status Push(VariableStore& store, const std::string& name,
                  UpdateKind kind, std::vector<float> values,
                  OptimizerSpec optimizer = {}) {
  PushSpec push;
  push.optimizer = optimizer;
  const std::string bytes(reinterpret_cast<const char*>(values.data()),
                          values.size() * 4);
  push.updates = {{name, kind, bytes, std::nullopt}};
  return store.Push(push).status();
}

std::vector<float> Read(VariableStore& store, const std::string& name) {
  auto snapshot = store.ReadVariable(name);
  EXPECT_TRUE(snapshot.ok()) << name << ": " << snapshot.status();
  if (!snapshot.ok()) return {};
  std::vector<float> values(snapshot->value->size() / 4);
  std::memcpy(values.data(), snapshot->value->data(), snapshot->value->size());
  return values;
}

TEST(DurabilityTest, LogAloneRestoresEveryAcknowledgedChange) {
  const std::string dir = FreshDir("log_alone");
  {
    Server server(dir);
    Create(*server.store, "a", {1, 2});
    Create(*server.store, "b", {3});
    Create(*server.store, "gone", {0});
    ASSERT_TRUE(
        Push(*server.store, "a", UpdateKind::kAssignAdd, {10, 10}).ok());
    OptimizerSpec momentum;
    momentum.kind = OptimizerKind::kMomentum;
    momentum.learning_rate = 1;
    ASSERT_TRUE(
        Push(*server.store, "b", UpdateKind::kApplyGradient, {1}, momentum)
            .ok());
    ASSERT_TRUE(server.store->DeleteVariable("gone").ok());
    // No checkpoint was written: everything must come from the log. (Real
    // kill -9 crashes are tests/crash_recovery_e2e_test.cc.)
    server.durability.reset();
  }
  Server restarted(dir);
  EXPECT_THAT(Read(*restarted.store, "a"), ElementsAre(11, 12));
  EXPECT_THAT(Read(*restarted.store, "b"), ElementsAre(2));
  EXPECT_THAT(Read(*restarted.store, "b/Momentum"), ElementsAre(1));
  EXPECT_EQ(restarted.store->ReadVariable("a")->info.version, 2);
  EXPECT_EQ(restarted.store->ReadVariable("gone").status().code(),
            absl::StatusCode::kNotFound);
  // The restored slot is still a slot: deleting b removes it.
  EXPECT_THAT(*restarted.store->DeleteVariable("b"),
              ElementsAre("b", "b/Momentum"));
}

// A push with no updates succeeds and changes nothing, with a log as without
// one (the log refuses an empty record, so it must never be asked for one).
TEST(DurabilityTest, EmptyPushSucceedsWithALogAsWithout) {
  const std::string dir = FreshDir("empty_push");
  {
    Server server(dir);
    Create(*server.store, "w", {1});
    absl::StatusOr<std::vector<VariableInfo>> infos =
        server.store->Push(PushSpec());
    ASSERT_TRUE(infos.ok()) << infos.status();
    EXPECT_TRUE(infos->empty());
  }
  Server restarted(dir);
  EXPECT_THAT(Read(*restarted.store, "w"), ElementsAre(1));
}

TEST(DurabilityTest, CheckpointPlusLaterLog) {
  const std::string dir = FreshDir("checkpoint_and_log");
  {
    Server server(dir);
    Create(*server.store, "w", {1});
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    ASSERT_TRUE(Push(*server.store, "w", UpdateKind::kAssign, {5}).ok());
    Create(*server.store, "late", {7});
  }
  Server restarted(dir);
  EXPECT_THAT(Read(*restarted.store, "w"), ElementsAre(5));
  EXPECT_THAT(Read(*restarted.store, "late"), ElementsAre(7));
  // A second checkpoint after restart gets a higher sequence and still loads.
  auto sequence = restarted.durability->Checkpoint();
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_GE(*sequence, 2);
}

// A checkpoint holds the variables registered when its log segment began:
// one pushed to and then deleted before the checkpoint read its values must
// still be in it, or replaying the segment's push (before its deletion)
// finds no variable and the server cannot start.
TEST(DurabilityTest, AVariableDeletedDuringACheckpointStaysInIt) {
  const std::string dir = FreshDir("delete_during_checkpoint");
  {
    VariableStore* live = nullptr;
    DurabilityOptions options;
    options.data_dir = dir;
    options.fsync_policy = FsyncPolicy::kAlways;
    options.after_segment_start_for_testing = [&] {
      ASSERT_TRUE(Push(*live, "v", UpdateKind::kAssign, {3}).ok());
      ASSERT_TRUE(live->DeleteVariable("v").ok());
      Create(*live, "w", {4});  // Made after the switch: in the log only.
    };
    std::unique_ptr<Durability> durability;  // Outlives the store.
    std::unique_ptr<VariableStore> store;
    auto opened = Durability::Open(options, {}, &store);
    ASSERT_TRUE(opened.ok()) << opened.status();
    durability = *std::move(opened);
    live = store.get();
    Create(*store, "v", {1});
    Create(*store, "kept", {2});
    ASSERT_TRUE(durability->Checkpoint().ok());
  }  // A crash: no checkpoint at exit.
  DurabilityOptions options;
  options.data_dir = dir;
  std::unique_ptr<VariableStore> store;
  auto restarted = Durability::Open(options, {}, &store);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_TRUE(absl::IsNotFound(store->ReadVariable("v").status()));
  EXPECT_THAT(Read(*store, "kept"), ElementsAre(2));
  EXPECT_THAT(Read(*store, "w"), ElementsAre(4));
  store.reset();  // Before its Durability.
}

TEST(DurabilityTest, CheckpointOnlyPolicyKeepsAssignmentsButNotGradients) {
  const std::string dir = FreshDir("checkpoint_only");
  {
    Server server(dir, FsyncPolicy::kCheckpointOnly);
    Create(*server.store, "v", {0});
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    ASSERT_TRUE(
        Push(*server.store, "v", UpdateKind::kApplyGradient, {-1}).ok());
    Create(*server.store, "c", {3});
    server.durability
        .reset();  // Gradients were never logged under this policy.
  }
  Server restarted(dir, FsyncPolicy::kCheckpointOnly);
  EXPECT_THAT(Read(*restarted.store, "v"),
              ElementsAre(0));  // The step is lost.
  EXPECT_THAT(Read(*restarted.store, "c"), ElementsAre(3));
}

TEST(DurabilityTest, EveryCheckpointCorruptStopsStartUpUnlessAllowed) {
  const std::string dir = FreshDir("corrupt_checkpoint");
  {
    Server server(dir);
    Create(*server.store, "x", {4, 4});
    ASSERT_TRUE(server.durability->Checkpoint().ok());
  }
  // Flip a byte of the only checkpoint's data.
  const std::string data =
      JoinPath(dir, "checkpoints/" + CheckpointDirName(1) + "/data");
  std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good()) << data;
  file.seekp(1);
  file.put('\x7f');
  file.close();
  std::unique_ptr<VariableStore> store;
  DurabilityOptions options;
  options.data_dir = dir;
  absl::Status refused = Durability::Open(options, {}, &store).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("CRC"));
  EXPECT_THAT(refused.message(),
              ::testing::HasSubstr("--ignore_corrupt_checkpoints"));
  // The operator's override starts from the log alone, which after that
  // checkpoint holds nothing older: the damaged state is not loaded.
  options.ignore_corrupt_checkpoints = true;
  std::unique_ptr<VariableStore> fresh;
  auto opened = Durability::Open(options, {}, &fresh);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(fresh->num_variables(), 0);
}

// ---- A push is one record: all or nothing after a crash ----

std::string SegmentPath(const std::string& dir, int64_t sequence) {
  return JoinPath(dir, "wal/" + WalSegmentName(sequence));
}

uint64_t FileSize(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  return static_cast<uint64_t>(file.tellg());
}

absl::Status PushTwo(VariableStore& store, float x, float y) {
  const std::vector<float> xs(1000, x), ys(1000, y);
  const std::string xb(reinterpret_cast<const char*>(xs.data()), 4000);
  const std::string yb(reinterpret_cast<const char*>(ys.data()), 4000);
  PushSpec push;
  push.updates = {{"a/x", UpdateKind::kAssign, xb, std::nullopt},
                  {"a/y", UpdateKind::kAssign, yb, std::nullopt}};
  return store.Push(push).status();
}

TEST(DurabilityTest, PushCutShortByACrashIsNotReplayedInPart) {
  const std::string dir = FreshDir("push_torn");
  uint64_t before, after;
  {
    Server server(dir);
    Create(*server.store, "a/x", std::vector<float>(1000, 5));
    Create(*server.store, "a/y", std::vector<float>(1000, 5));
    before = FileSize(SegmentPath(dir, 0));
    ASSERT_TRUE(PushTwo(*server.store, 6, 6).ok());
    after = FileSize(SegmentPath(dir, 0));
  }
  // A crash while the push was being written: three quarters reached the
  // disk (every variable's bytes but the last's).
  ASSERT_EQ(
      truncate(SegmentPath(dir, 0).c_str(), before + (after - before) * 3 / 4),
      0);
  Server restarted(dir);
  EXPECT_EQ(Read(*restarted.store, "a/x")[0], 5);
  EXPECT_EQ(Read(*restarted.store, "a/y")[0], 5);
}

TEST(DurabilityTest, PushThatFailedToLogLeavesNothingReplayWouldApply) {
  const std::string dir = FreshDir("push_disk_full");
  {
    Server server(dir);
    Create(*server.store, "a/x", std::vector<float>(1000, 5));
    Create(*server.store, "a/y", std::vector<float>(1000, 5));
    // Room for one and a half variables' values.
    absl::Status status;
    {
      FileSizeLimit limit(FileSize(SegmentPath(dir, 0)) + 6000);
      status = PushTwo(*server.store, 6, 6);
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_EQ(Read(*server.store, "a/x")[0], 5);
    server.durability.reset();  // As kill -9: nothing more is written.
  }
  Server restarted(dir);
  EXPECT_EQ(Read(*restarted.store, "a/x")[0], 5);
  EXPECT_EQ(Read(*restarted.store, "a/y")[0], 5);
}

std::string Floats(std::vector<float> values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * 4);
}

void Damage(const std::string& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good()) << path;
  file.seekp(1);
  file.put('\x7f');
}

// The first checkpoint removes wal-0, which held x's creation; with every
// checkpoint damaged the log alone cannot restore x, but start-up still
// succeeds and restores what the log holds.
TEST(DurabilityTest, IgnoreCorruptCheckpointsWorksAfterSeveralCheckpoints) {
  const std::string dir = FreshDir("ignore_after_checkpoints");
  {
    Server server(dir);
    Create(*server.store, "x", {1});
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    Create(*server.store, "y", {2});
    ASSERT_TRUE(Push(*server.store, "x", UpdateKind::kAssign, {5}).ok());
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    ASSERT_TRUE(Push(*server.store, "y", UpdateKind::kAssign, {6}).ok());
    PushSpec both;
    const std::string seven = Floats({7}), eight = Floats({8});
    both.updates = {{"x", UpdateKind::kAssign, seven, std::nullopt},
                    {"y", UpdateKind::kAssign, eight, std::nullopt}};
    ASSERT_TRUE(server.store->Push(both).ok());
  }
  for (int64_t sequence : {1, 2}) {
    Damage(
        JoinPath(dir, "checkpoints/" + CheckpointDirName(sequence) + "/data"));
  }
  std::unique_ptr<VariableStore> store;
  DurabilityOptions options;
  options.data_dir = dir;
  options.ignore_corrupt_checkpoints = true;
  auto opened = Durability::Open(options, {}, &store);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(Read(*store, "y"), ElementsAre(8));
  EXPECT_EQ(store->ReadVariable("x").status().code(),
            absl::StatusCode::kNotFound);
}

// A log that does not fit the state it continues (here: the checkpoint it
// follows is gone) is refused with the file, the offset and the flag.
TEST(DurabilityTest, LogThatDoesNotFitIsRefusedNamingFileOffsetAndFlag) {
  const std::string dir = FreshDir("log_does_not_fit");
  {
    Server server(dir);
    Create(*server.store, "x", {1});
    ASSERT_TRUE(server.durability->Checkpoint().ok());
    Create(*server.store, "z", {3});
    ASSERT_TRUE(Push(*server.store, "x", UpdateKind::kAssign, {5}).ok());
  }
  ASSERT_TRUE(
      RemoveAll(JoinPath(dir, "checkpoints/" + CheckpointDirName(1))).ok());
  std::unique_ptr<VariableStore> store;
  DurabilityOptions options;
  options.data_dir = dir;
  absl::Status refused = Durability::Open(options, {}, &store).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.message(),
              ::testing::HasSubstr(WalSegmentName(1) + ": record at byte "));
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("lacks"));
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("--skip_wal_corruption"));
  options.skip_wal_corruption = true;
  std::unique_ptr<VariableStore> fresh;
  auto opened = Durability::Open(options, {}, &fresh);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(Read(*fresh, "z"), ElementsAre(3));  // Replayed up to the record.
}

TEST(DurabilityTest, FailedCheckpointTemporaryIsRemovedAtStartUp) {
  const std::string dir = FreshDir("stale_tmp");
  const std::string tmp =
      JoinPath(dir, "checkpoints/" + CheckpointDirName(4) + ".tmp");
  ASSERT_TRUE(CreateDirectories(tmp).ok());
  { std::ofstream(JoinPath(tmp, "data")) << "partial"; }
  Server server(dir);
  EXPECT_FALSE(PathExists(tmp));
}

// The log's cost per acknowledged push, which the README's disk bound
// states: the new value of the variable and of each optimizer slot, plus
// less than 100 bytes of framing per variable.
TEST(DurabilityTest, LogBytesPerPushAreTheNewValuesOfVariableAndSlots) {
  constexpr int64_t kFloats = 1 << 18;  // 1 MiB of float32.
  constexpr uint64_t kBytes = kFloats * 4;
  struct Case {
    OptimizerKind kind;
    const char* name;
    uint64_t values;  // Variable + slots.
  };
  for (const Case& c : {Case{OptimizerKind::kSgd, "sgd", 1},
                        Case{OptimizerKind::kMomentum, "momentum", 2},
                        Case{OptimizerKind::kAdam, "adam", 3}}) {
    const std::string dir = FreshDir(std::string("log_bytes_") + c.name);
    Server server(dir);
    Create(*server.store, "w", std::vector<float>(kFloats, 1));
    OptimizerSpec optimizer;
    optimizer.kind = c.kind;
    const std::vector<float> gradient(kFloats, 0.5f);
    ASSERT_TRUE(Push(*server.store, "w", UpdateKind::kApplyGradient, gradient,
                     optimizer)
                    .ok());
    const uint64_t before = FileSize(SegmentPath(dir, 0));
    constexpr int kPushes = 4;
    for (int i = 0; i < kPushes; ++i) {
      ASSERT_TRUE(Push(*server.store, "w", UpdateKind::kApplyGradient, gradient,
                       optimizer)
                      .ok());
    }
    const uint64_t per_push =
        (FileSize(SegmentPath(dir, 0)) - before) / kPushes;
    EXPECT_GE(per_push, c.values * kBytes) << c.name;
    EXPECT_LT(per_push, c.values * (kBytes + 100)) << c.name;
    std::cout << c.name << ": " << per_push << " log bytes per push of a "
              << kBytes << "-byte gradient\n";
  }
}

TEST(DurabilityTest, AdamCarriesOnAfterARestartAsIfNoneHappened) {
  // Adam's bias correction depends on the step number: a restored variable
  // must take its fourth step as the fourth, not as a first.
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.1;
  const std::vector<std::vector<float>> gradients = {
      {1, -2}, {0.5, 1}, {-3, 0.25}, {2, 2}};
  Server uninterrupted(FreshDir("adam_uninterrupted"));
  Create(*uninterrupted.store, "w", {1, 1});
  for (const auto& g : gradients) {
    ASSERT_TRUE(
        Push(*uninterrupted.store, "w", UpdateKind::kApplyGradient, g, adam)
            .ok());
  }
  const std::string dir = FreshDir("adam_restarted");
  {
    Server server(dir);
    Create(*server.store, "w", {1, 1});
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(Push(*server.store, "w", UpdateKind::kApplyGradient,
                       gradients[i], adam)
                      .ok());
    }
  }
  Server restarted(dir);
  ASSERT_TRUE(Push(*restarted.store, "w", UpdateKind::kApplyGradient,
                   gradients[3], adam)
                  .ok());
  EXPECT_EQ(Read(*restarted.store, "w"), Read(*uninterrupted.store, "w"));
  EXPECT_EQ(Read(*restarted.store, "w/Adam_1"),
            Read(*uninterrupted.store, "w/Adam_1"));
}

}  // namespace
}  // namespace paramserver
