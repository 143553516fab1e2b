// The store's change log against concurrency: whatever creates, pushes,
// deletes and re-creates race from several threads, the log replays without
// error into the state the store is in.
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

constexpr int kElements = 4;

// Records every change in memory, in append order.
class RecordingLog final : public ChangeLog {
 public:
  struct Entry {
    enum Kind { kCreate, kDelete, kPush, kRows } kind;
    VariableInfo info;  // kCreate: all; kDelete: name.
    bool is_slot = false;
    std::string value;  // kCreate.
    struct Pushed {
      std::string name;
      int64_t version;
      std::string value;
    };
    std::vector<Pushed> pushed;    // kPush, kRows.
    std::vector<int64_t> row_ids;  // kRows.
  };

  absl::StatusOr<LogPosition> AppendCreate(const VariableInfo& info,
                                           bool is_slot,
                                           absl::string_view value) override {
    return Add({Entry::kCreate, info, is_slot, std::string(value)});
  }
  absl::StatusOr<LogPosition> AppendDelete(absl::string_view name) override {
    Entry entry{Entry::kDelete, {}, false, ""};
    entry.info.name = std::string(name);
    return Add(std::move(entry));
  }
  absl::StatusOr<LogPosition> AppendPushIds(
      absl::Span<const RememberedPush>) override {
    return 0;
  }
  absl::StatusOr<LogPosition> AppendPush(absl::Span<const LoggedValue> values,
                                         ChangeSource,
                                         const LoggedPushId&) override {
    Entry entry{Entry::kPush, {}, false, ""};
    for (const LoggedValue& value : values) {
      entry.pushed.push_back(
          {std::string(value.name), value.version, std::string(value.value)});
    }
    return Add(std::move(entry));
  }
  absl::StatusOr<LogPosition> AppendRows(const LoggedRows& rows,
                                         ChangeSource) override {
    Entry entry{Entry::kRows, {}, false, ""};
    entry.row_ids.assign(rows.ids.begin(), rows.ids.end());
    for (const LoggedValue& value : rows.values) {
      entry.pushed.push_back(
          {std::string(value.name), value.version, std::string(value.value)});
    }
    return Add(std::move(entry));
  }
  // The store makes no dynamic tables in these tests.
  absl::StatusOr<LogPosition> AppendCreateTable(absl::string_view,
                                                const TableSpec&) override {
    return absl::UnimplementedError("no tables here");
  }
  absl::StatusOr<LogPosition> AppendTableChange(absl::string_view, int64_t,
                                                const TableChange&,
                                                ChangeSource) override {
    return absl::UnimplementedError("no tables here");
  }
  absl::Status Commit(LogPosition) override { return absl::OkStatus(); }

  std::vector<Entry> entries() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_;
  }

 private:
  LogPosition Add(Entry entry) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(std::move(entry));
    return entries_.size();
  }
  std::mutex mu_;
  std::vector<Entry> entries_;
};

// Replays `entries` into a fresh store as Durability does; the first
// record that does not fit the state so far is the error.
absl::StatusOr<std::unique_ptr<VariableStore>> Replay(
    const std::vector<RecordingLog::Entry>& entries) {
  std::unique_ptr<VariableStore> store = *VariableStore::Create({});
  for (size_t i = 0; i < entries.size(); ++i) {
    const RecordingLog::Entry& entry = entries[i];
    absl::Status status;
    switch (entry.kind) {
      case RecordingLog::Entry::kCreate: {
        auto buffer = *TensorBuffer::Allocate(entry.value.size());
        std::memcpy(buffer->data(), entry.value.data(), entry.value.size());
        status = store->Install(entry.info, entry.is_slot, std::move(buffer));
        break;
      }
      case RecordingLog::Entry::kDelete:
        store->ReplayDelete(entry.info.name);
        break;
      case RecordingLog::Entry::kPush: {
        std::vector<LoggedValue> values;
        for (const auto& p : entry.pushed)
          values.push_back({p.name, p.version, p.value});
        status = store->ReplayPush(values);
        break;
      }
      case RecordingLog::Entry::kRows: {
        std::vector<LoggedValue> values;
        for (const auto& p : entry.pushed)
          values.push_back({p.name, p.version, p.value});
        status = store->ReplayRows(entry.row_ids, values);
        break;
      }
    }
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("record ", i, ": ", status.message()));
    }
  }
  return store;
}

std::string Floats(float x) {
  const float values[kElements] = {x, x, x, x};
  return std::string(reinterpret_cast<const char*>(values), sizeof(values));
}

// One thread's random work on a few names.
void Churn(VariableStore& store, int seed, int ops) {
  std::mt19937 rng(seed);
  const std::vector<std::string> names = {"t/x", "t/y", "t/z"};
  for (int op = 0; op < ops; ++op) {
    const std::string& name = names[rng() % names.size()];
    const std::string& other = names[rng() % names.size()];
    const std::string bytes = Floats(static_cast<float>(rng() % 100));
    PushSpec push;
    switch (rng() % 6) {
      case 0: {
        VariableRequest request;
        request.name = name;
        request.reuse = ReuseMode::kAutoReuse;
        request.shape = TensorShape{kElements};
        request.initializer.kind = InitializerKind::kConstant;
        request.initializer.values = {static_cast<double>(op)};
        (void)store.GetVariable(request);
        break;
      }
      case 1:
        (void)store.DeleteVariable(name);
        break;
      case 2:
        push.updates = {{name, UpdateKind::kAssignAdd, bytes, std::nullopt}};
        (void)store.Push(push);
        break;
      case 3:
        push.optimizer.kind = OptimizerKind::kMomentum;
        push.updates = {
            {name, UpdateKind::kApplyGradient, bytes, std::nullopt}};
        (void)store.Push(push);
        break;
      default:  // Two variables at once (a repeated name is refused).
        push.updates = {{name, UpdateKind::kAssign, bytes, std::nullopt},
                        {other, UpdateKind::kAssignAdd, bytes, std::nullopt}};
        (void)store.Push(push);
        break;
    }
  }
}

void ExpectSameState(VariableStore& live, VariableStore& replayed) {
  std::vector<VariableStore::SnapshotEntry> a = live.SnapshotAll();
  std::vector<VariableStore::SnapshotEntry> b = replayed.SnapshotAll();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].snapshot.info.name, b[i].snapshot.info.name);
    EXPECT_EQ(a[i].snapshot.info.version, b[i].snapshot.info.version)
        << a[i].snapshot.info.name;
    EXPECT_EQ(a[i].is_slot, b[i].is_slot) << a[i].snapshot.info.name;
    const TensorBuffer& x = *a[i].snapshot.value;
    const TensorBuffer& y = *b[i].snapshot.value;
    EXPECT_EQ(absl::string_view(x.data(), x.size()),
              absl::string_view(y.data(), y.size()))
        << a[i].snapshot.info.name;
  }
}

TEST(VariableStoreLogOrderTest,
     RacingCreatesPushesAndDeletesReplayToTheLiveState) {
  for (int trial = 0; trial < 20; ++trial) {
    RecordingLog log;
    std::unique_ptr<VariableStore> store = *VariableStore::Create({}, &log);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back(
          [&store, trial, t] { Churn(*store, trial * 10 + t, 2000); });
    }
    for (std::thread& thread : threads) thread.join();
    // Replay is checked record by record, so a success covers every prefix.
    absl::StatusOr<std::unique_ptr<VariableStore>> replayed =
        Replay(log.entries());
    ASSERT_TRUE(replayed.ok())
        << "trial " << trial << ": " << replayed.status();
    ExpectSameState(*store, **replayed);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace paramserver
