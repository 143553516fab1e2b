// Group commit against its two promises, with the real log on disk under
// FsyncPolicy::kAlways while pushes, creations and scope deletions race:
// a change acknowledged to its caller is fsynced (the log's synced position
// covers the record that caller appended), and the log's order is the order
// in which changes took effect (replaying it gives the live state).

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/durability/durability.h"
#include "server/durability/env.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

constexpr int kElements = 16;

// The store's change log: a WriteAheadLog, plus a check at every
// acknowledgement that the record the acknowledging thread appended last is
// fsynced. Appends run in the caller's thread (the store appends in the
// thread of the request), so "last appended by this thread" is that record.
class CheckedLog final : public ChangeLog {
 public:
  explicit CheckedLog(std::unique_ptr<WriteAheadLog> log)
      : log_(std::move(log)) {}

  absl::StatusOr<LogPosition> AppendCreate(const VariableInfo& info,
                                           bool is_slot,
                                           absl::string_view value) override {
    return Note(log_->AppendCreate(info, is_slot, value));
  }
  absl::StatusOr<LogPosition> AppendDelete(absl::string_view name) override {
    return Note(log_->AppendDelete(name));
  }
  absl::StatusOr<LogPosition> AppendPush(absl::Span<const LoggedValue> values,
                                         ChangeSource source,
                                         const LoggedPushId& push_id) override {
    return Note(log_->AppendPush(values, source, push_id));
  }
  absl::StatusOr<LogPosition> AppendRows(const LoggedRows& rows,
                                         ChangeSource source) override {
    return Note(log_->AppendRows(rows, source));
  }
  absl::StatusOr<LogPosition> AppendPushIds(
      absl::Span<const RememberedPush> remembered) override {
    return Note(log_->AppendPushIds(remembered));
  }
  absl::StatusOr<LogPosition> AppendCreateTable(
      absl::string_view name, const TableSpec& spec) override {
    return Note(log_->AppendCreateTable(name, spec));
  }
  absl::StatusOr<LogPosition> AppendTableChange(absl::string_view name,
                                                int64_t entry_floats,
                                                const TableChange& change,
                                                ChangeSource source) override {
    return Note(log_->AppendTableChange(name, entry_floats, change, source));
  }
  absl::Status Commit(LogPosition position) override {
    return log_->Commit(position);
  }

  // Whether everything this thread appended is fsynced.
  bool ThreadsAppendsSynced() const {
    return log_->synced_position() >= last_appended_;
  }
  WriteAheadLog& wal() { return *log_; }

 private:
  static absl::StatusOr<LogPosition> Note(
      absl::StatusOr<LogPosition> position) {
    if (position.ok()) last_appended_ = *position;
    return position;
  }
  static thread_local LogPosition last_appended_;
  std::unique_ptr<WriteAheadLog> log_;
};

thread_local LogPosition CheckedLog::last_appended_ = 0;

std::string FreshDir(const std::string& name) {
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), name);
  (void)RemoveAll(dir);
  return dir;
}

std::string Value(int writer, int step) {
  float values[kElements];
  for (int i = 0; i < kElements; ++i) values[i] = writer * 100000 + step;
  return std::string(reinterpret_cast<const char*>(values), sizeof(values));
}

absl::Status CreateVariable(VariableStore& store, const std::string& name) {
  VariableRequest request;
  request.name = name;
  request.reuse = ReuseMode::kAutoReuse;
  request.shape = TensorShape{kElements};
  request.initializer.kind = InitializerKind::kZeros;
  return store.GetVariable(request).status();
}

using Acknowledged = std::tuple<std::string, int64_t, std::string>;

// Name -> (version, value) of every variable.
std::map<std::string, std::pair<int64_t, std::string>> Contents(
    VariableStore& store) {
  std::map<std::string, std::pair<int64_t, std::string>> contents;
  for (VariableStore::SnapshotEntry& entry : store.SnapshotAll()) {
    const VariableSnapshot& s = entry.snapshot;
    contents[s.info.name] = {s.info.version,
                             std::string(s.value->data(), s.value->size())};
  }
  return contents;
}

TEST(GroupCommitTest, AcknowledgedIsSyncedAndTheLogReplaysToTheLiveState) {
  const std::string dir = FreshDir("group_commit");
  auto wal =
      WriteAheadLog::Open({JoinPath(dir, "wal"), FsyncPolicy::kAlways}, 0);
  ASSERT_TRUE(wal.ok()) << wal.status();
  CheckedLog log(*std::move(wal));
  std::unique_ptr<VariableStore> store = *VariableStore::Create({}, &log);

  constexpr int kWriters = 6;
  constexpr int kPushesPerWriter = 150;
  std::atomic<bool> done{false};
  std::atomic<int> unsynced_acks{0};
  std::vector<std::vector<Acknowledged>> acknowledged(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      // Two writers share each variable in "shared/", which the deleter
      // deletes and re-creates; "own/" variables stay.
      const std::string names[] = {absl::StrCat("own/v", w),
                                   absl::StrCat("shared/v", w / 2)};
      for (int step = 0; step < kPushesPerWriter; ++step) {
        const std::string& name = names[step % 2];
        if (!CreateVariable(*store, name).ok()) continue;
        if (!log.ThreadsAppendsSynced()) ++unsynced_acks;
        const std::string value = Value(w, step);  // The update points into it.
        PushSpec push;
        push.updates = {{name, UpdateKind::kAssign, value, std::nullopt}};
        absl::StatusOr<std::vector<VariableInfo>> pushed = store->Push(push);
        if (!pushed.ok()) {
          // Only a delete that won the race may refuse it.
          EXPECT_EQ(pushed.status().code(), absl::StatusCode::kNotFound)
              << pushed.status();
          continue;
        }
        if (!log.ThreadsAppendsSynced()) ++unsynced_acks;
        acknowledged[w].emplace_back(name, (*pushed)[0].version, value);
      }
    });
  }
  std::thread deleter([&] {
    while (!done.load()) {
      if (store->DeleteScope("shared").ok() && !log.ThreadsAppendsSynced()) {
        ++unsynced_acks;
      }
      std::this_thread::yield();
    }
  });
  for (std::thread& thread : threads) thread.join();
  done = true;
  deleter.join();
  EXPECT_EQ(unsynced_acks.load(), 0);
  const int64_t syncs = log.wal().sync_count();
  const auto live = Contents(*store);
  ASSERT_TRUE(log.wal().Close().ok());

  // Every acknowledged push is in the log, as the value and version the
  // caller was told.
  std::set<Acknowledged> logged;
  int64_t records = 0;
  auto report =
      ReplayWriteAheadLog(JoinPath(dir, "wal"), 0, [&](const WalRecord& r) {
        ++records;
        for (const LoggedValue& v : r.values) {
          logged.emplace(std::string(v.name), v.version, std::string(v.value));
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(report.ok()) << report.status();
  int64_t acks = 0;
  for (const std::vector<Acknowledged>& part : acknowledged) {
    for (const Acknowledged& ack : part) {
      ++acks;
      EXPECT_TRUE(logged.count(ack))
          << std::get<0>(ack) << " v" << std::get<1>(ack);
    }
  }
  EXPECT_GT(acks, 0);
  // Concurrent commits shared fsyncs.
  EXPECT_LT(syncs, records);

  // Replaying the log, as a restart does, gives the state the store was in.
  std::unique_ptr<VariableStore> restored;
  DurabilityOptions options;
  options.data_dir = dir;
  auto durability = Durability::Open(options, {}, &restored);
  ASSERT_TRUE(durability.ok()) << durability.status();
  EXPECT_EQ(Contents(*restored), live);
}

}  // namespace
}  // namespace paramserver
