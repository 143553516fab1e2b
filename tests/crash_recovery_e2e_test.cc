// Durability against real crashes: a client creates, assigns (whole, or row
// by row with sparse pushes) and deletes variables while the server is killed
// with SIGKILL at random moments and restarted on the same data directory, many
// times. Every operation the client saw acknowledged must be there afterwards,
// with its value. A dynamic table written under the same kills must come
// back exactly as it was, evictions included.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dynamic_table.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

constexpr int kElements = 4;

// What the client knows: per variable, the last acknowledged value (nullopt:
// acknowledged deleted) and the value of an operation in flight when the
// server died, which may or may not have been applied.
struct Expectation {
  std::optional<float> acknowledged;
  std::optional<std::optional<float>> in_flight;
};

std::string Bytes(float x) {
  const float values[kElements] = {x, x, x, x};
  return std::string(reinterpret_cast<const char*>(values), sizeof(values));
}

std::vector<std::string> ServerFlags(const std::string& dir) {
  return {"--data_dir=" + dir, "--initialize_data_dir", "--wal_fsync=always",
          "--checkpoint_interval_seconds=0.15"};
}

// One round of client work until the server stops answering.
void Work(ParameterServerClient& client,
          std::map<std::string, Expectation>& model, std::mt19937& rng,
          float& next_value) {
  ClientOptions options;
  for (int op = 0; op < 100000; ++op) {
    const std::string name = "crash/v" + std::to_string(rng() % 24);
    Expectation& e = model[name];
    const float value = next_value++;
    absl::Status status;
    std::optional<float> result = value;
    if (!e.acknowledged.has_value()) {
      VariableRequest request;
      request.name = name;
      request.shape = TensorShape{kElements};
      request.initializer.kind = InitializerKind::kConstant;
      request.initializer.values = {value};
      status = client.GetVariable(request).status();
    } else if (rng() % 5 == 0) {
      status = client.DeleteVariable(name).status();
      result = std::nullopt;
    } else if (rng() % 2 == 0) {
      // A sparse push of every row in a shuffled order: scatter assign,
      // scatter add of the difference from the acknowledged value, or an
      // SGD step (learning rate 1) whose gradient is minus that difference.
      // Its log record holds rows, not the whole value.
      int64_t ids[kElements] = {0, 1, 2, 3};
      std::shuffle(std::begin(ids), std::end(ids), rng);
      const float difference = value - *e.acknowledged;
      RowUpdateSpec push;
      push.name = name;
      std::string bytes;
      switch (rng() % 3) {
        case 0:
          push.kind = UpdateKind::kAssign;
          bytes = Bytes(value);
          break;
        case 1:
          push.kind = UpdateKind::kAssignAdd;
          bytes = Bytes(difference);
          break;
        default:
          push.kind = UpdateKind::kApplyGradient;
          push.optimizer.kind = OptimizerKind::kSgd;
          push.optimizer.learning_rate = 1.0;
          bytes = Bytes(-difference);
      }
      push.ids = ids;
      push.rows = bytes;
      status = client.PushRows(push).status();
    } else {
      PushSpec push;
      const std::string bytes = Bytes(value);
      push.updates = {{name, UpdateKind::kAssign, bytes, std::nullopt}};
      status = client.Push(push).status();
    }
    if (status.ok()) {
      e.acknowledged = result;
      continue;
    }
    e.in_flight = result;  // The server died under this call.
    return;
  }
}

void Verify(ParameterServerClient& client,
            std::map<std::string, Expectation>& model) {
  for (auto& [name, e] : model) {
    absl::StatusOr<FetchedVariable> read = client.ReadVariable(name);
    std::optional<float> actual;
    if (read.ok()) {
      ASSERT_EQ(read->value.size(), kElements * sizeof(float)) << name;
      float values[kElements];
      std::memcpy(values, read->value.data(), sizeof(values));
      for (float v : values) ASSERT_EQ(v, values[0]) << name;
      actual = values[0];
    } else {
      ASSERT_EQ(read.status().code(), absl::StatusCode::kNotFound)
          << read.status();
    }
    const bool matches_acknowledged = actual == e.acknowledged;
    const bool matches_in_flight =
        e.in_flight.has_value() && actual == *e.in_flight;
    ASSERT_TRUE(matches_acknowledged || matches_in_flight)
        << name << ": found " << (actual ? std::to_string(*actual) : "nothing")
        << ", acknowledged "
        << (e.acknowledged ? std::to_string(*e.acknowledged) : "nothing");
    // From here on the state found is the truth.
    e.acknowledged = actual;
    e.in_flight.reset();
  }
}

TEST(CrashRecoveryE2ETest, AcknowledgedOperationsSurviveKillNine) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/crash_data";
  std::map<std::string, Expectation> model;
  std::mt19937 rng(20261125);
  float next_value = 1;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    auto server = ServerProcess::Start(ServerFlags(dir));
    ASSERT_TRUE(server.ok()) << "round " << round << ": " << server.status();
    ClientOptions options;
    options.timeout = absl::Seconds(5);
    auto client = ParameterServerClient::Connect((*server)->target(), options);
    ASSERT_TRUE(client.ok());
    Verify(**client, model);
    if (HasFatalFailure()) return;
    const int delay_ms = 100 + rng() % 400;  // Drawn here: rng is not shared.
    const pid_t pid = (*server)->pid();
    std::thread killer([delay_ms, pid] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(pid, SIGKILL);
    });
    Work(**client, model, rng, next_value);
    killer.join();
    (*server)->StopWith(SIGKILL);
  }
  // A clean stop (SIGTERM writes a final checkpoint) loses nothing either.
  auto server = ServerProcess::Start(ServerFlags(dir));
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ParameterServerClient::Connect((*server)->target());
  Verify(**client, model);
  const int status = (*server)->StopWith(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  server = ServerProcess::Start(ServerFlags(dir));
  ASSERT_TRUE(server.ok()) << server.status();
  client = ParameterServerClient::Connect((*server)->target());
  Verify(**client, model);
  EXPECT_GT(next_value, 50) << "the client did too little work to mean much";
}

// ---- A dynamic table: rows written and evicted under kill -9 ----

constexpr int kTableIds = 96;
constexpr int kTableCapacity = 24;  // Most writes of a new id evict.

// One write of one id, as sent.
struct TableWrite {
  int64_t id = 0;
  UpdateKind kind = UpdateKind::kAssign;
  float value = 0;  // Every element of the row.
};

TableRequest CrashTable(std::optional<int64_t> seed) {
  TableRequest request;
  request.name = "crash/table";
  request.reuse = ReuseMode::kAutoReuse;
  request.spec.width = kElements;
  request.spec.capacity = kTableCapacity;
  request.spec.initializer.kind = InitializerKind::kRandomUniform;
  request.spec.initializer.seed = seed;
  return request;
}

// What the server must hold after `writes`: the same table in this process,
// one stripe (exact LRU, as the server runs with --table_stripes=1), the
// writes applied in order. Each write is of one id, so recency has no ties.
std::vector<float> Expected(int64_t seed, const std::vector<TableWrite>& writes,
                            int64_t* stored_rows) {
  DynamicTableOptions options;
  options.name = "crash/table";
  options.spec = CrashTable(seed).spec;
  options.stripes = 1;
  int64_t tick = 0;
  options.now_micros = [&tick] { return ++tick; };
  auto table = DynamicTable::Create(std::move(options));
  EXPECT_TRUE(table.ok()) << table.status();
  if (!table.ok()) return {};
  OptimizerSpec sgd;
  sgd.learning_rate = 1.0;
  for (const TableWrite& write : writes) {
    const std::vector<float> row(kElements, write.value);
    const int64_t ids[1] = {write.id};
    const absl::Status status = write.kind == UpdateKind::kAssign
                                    ? (*table)->Assign(ids, row)
                                : write.kind == UpdateKind::kAssignAdd
                                    ? (*table)->Add(ids, row)
                                    : (*table)->ApplyGradient(sgd, ids, row);
    EXPECT_TRUE(status.ok()) << status;
  }
  std::vector<int64_t> all(kTableIds);
  for (int64_t id = 0; id < kTableIds; ++id) all[id] = id;
  std::vector<float> rows(kTableIds * kElements);
  EXPECT_TRUE((*table)->Peek(all, absl::MakeSpan(rows)).ok());
  *stored_rows = (*table)->GetStats().stored_rows;
  return rows;
}

// Writes one random id at a time until the server stops answering; returns
// the write it died under.
std::optional<TableWrite> WriteTable(ParameterServerClient& client,
                                     std::vector<TableWrite>& acknowledged,
                                     std::mt19937& rng, float& next_value) {
  for (int op = 0; op < 100000; ++op) {
    TableWrite write;
    write.id = rng() % kTableIds;
    write.kind = rng() % 3 == 0   ? UpdateKind::kAssignAdd
                 : rng() % 2 == 0 ? UpdateKind::kApplyGradient
                                  : UpdateKind::kAssign;
    write.value = next_value++;
    const std::vector<float> row(kElements, write.value);
    const std::string bytes(reinterpret_cast<const char*>(row.data()),
                            row.size() * sizeof(float));
    const int64_t ids[1] = {write.id};
    RowUpdateSpec push;
    push.name = "crash/table";
    push.kind = write.kind;
    push.optimizer.kind = OptimizerKind::kSgd;
    push.optimizer.learning_rate = 1.0;
    push.ids = ids;
    push.rows = bytes;
    if (!client.PushRows(push).ok()) return write;
    acknowledged.push_back(write);
  }
  return std::nullopt;
}

TEST(CrashRecoveryE2ETest, ATableComesBackExactlyAfterKillNine) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/table_crash_data";
  std::vector<std::string> flags = ServerFlags(dir);
  flags.push_back("--table_stripes=1");
  std::vector<TableWrite> acknowledged;
  std::optional<TableWrite> in_flight;
  std::optional<int64_t> seed;
  std::mt19937 rng(20261203);
  float next_value = 1;
  int in_flight_applied = 0;
  constexpr int kRounds = 10;
  for (int round = 0; round <= kRounds; ++round) {
    auto server = ServerProcess::Start(flags);
    ASSERT_TRUE(server.ok()) << "round " << round << ": " << server.status();
    ClientOptions options;
    options.timeout = absl::Seconds(5);
    auto client = ParameterServerClient::Connect((*server)->target(), options);
    ASSERT_TRUE(client.ok());
    auto table = (*client)->GetTable(CrashTable(seed));
    ASSERT_TRUE(table.ok()) << table.status();
    seed = table->spec.initializer.seed;

    // The server holds what the acknowledged writes made, or that and the
    // write it died under: rows, evictions and the count alike.
    std::vector<int64_t> all(kTableIds);
    for (int64_t id = 0; id < kTableIds; ++id) all[id] = id;
    auto peeked = (*client)->PeekRows("crash/table", all);
    ASSERT_TRUE(peeked.ok()) << peeked.status();
    std::vector<float> found(kTableIds * kElements);
    std::memcpy(found.data(), peeked->rows.data(), peeked->rows.size());
    int64_t expected_rows = 0;
    const std::vector<float> without =
        Expected(*seed, acknowledged, &expected_rows);
    bool matched =
        found == without && table->counters.stored_rows == expected_rows;
    if (!matched && in_flight.has_value()) {
      acknowledged.push_back(*in_flight);
      matched = found == Expected(*seed, acknowledged, &expected_rows) &&
                table->counters.stored_rows == expected_rows;
      ++in_flight_applied;
      if (!matched) acknowledged.pop_back();
    }
    ASSERT_TRUE(matched) << "round " << round << ": after "
                         << acknowledged.size()
                         << " acknowledged writes the table differs ("
                         << table->counters.stored_rows << " rows stored)";
    in_flight.reset();
    if (round == kRounds) break;

    const int delay_ms = 100 + rng() % 400;
    const pid_t pid = (*server)->pid();
    std::thread killer([delay_ms, pid] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(pid, SIGKILL);
    });
    in_flight = WriteTable(**client, acknowledged, rng, next_value);
    killer.join();
    (*server)->StopWith(SIGKILL);
  }
  // Enough writes to evict many times over.
  EXPECT_GT(acknowledged.size(), size_t{4} * kTableIds)
      << "the client did too little work to mean much";
  RecordProperty("in_flight_applied", in_flight_applied);
}

// ---- Concurrent writers: deletes racing pushes, multi-variable pushes ----

constexpr int kGroup = 16;  // Variables every group push changes at once.

std::string GroupName(int i) { return "group/v" + std::to_string(i); }

absl::Status CreateConstant(ParameterServerClient& client,
                            const std::string& name, float value) {
  VariableRequest request;
  request.name = name;
  request.reuse = ReuseMode::kAutoReuse;
  request.shape = TensorShape{kElements};
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {value};
  return client.GetVariable(request).status();
}

// Adds 1 to every group variable in one push until the server dies; counts
// the pushes acknowledged.
void PushGroup(const std::string& target, std::atomic<int64_t>* acknowledged) {
  auto client = ParameterServerClient::Connect(target);
  if (!client.ok()) return;
  const std::string one = Bytes(1);
  PushSpec push;
  for (int i = 0; i < kGroup; ++i) {
    push.updates.push_back(
        {GroupName(i), UpdateKind::kAssignAdd, one, std::nullopt});
  }
  while ((*client)->Push(push).ok()) ++*acknowledged;
}

// Adds to, or deletes and re-creates, one contended variable until the
// server dies (the race of a push's record with a delete's).
void ChurnContended(const std::string& target, int seed) {
  auto client = ParameterServerClient::Connect(target);
  if (!client.ok()) return;
  std::mt19937 rng(seed);
  const std::string one = Bytes(1);
  for (;;) {
    absl::Status status;
    const int what = rng() % 4;
    if (what == 0) {
      status = (*client)->DeleteVariable("race/x").status();
    } else if (what == 1) {
      status = CreateConstant(**client, "race/x", 0);
    } else {
      PushSpec push;
      push.updates = {{"race/x", UpdateKind::kAssignAdd, one, std::nullopt}};
      status = (*client)->Push(push).status();
    }
    if (!status.ok() && status.code() != absl::StatusCode::kNotFound) return;
  }
}

// Every group variable holds the same count, at least the acknowledged one
// and at most that plus the pushes in flight. Returns the count.
float CheckGroup(ParameterServerClient& client, int64_t acknowledged,
                 int in_flight) {
  float first = -1;
  for (int i = 0; i < kGroup; ++i) {
    absl::StatusOr<FetchedVariable> read = client.ReadVariable(GroupName(i));
    EXPECT_TRUE(read.ok()) << GroupName(i) << ": " << read.status();
    if (!read.ok()) return -1;
    float value;
    std::memcpy(&value, read->value.data(), sizeof(value));
    if (i == 0) first = value;
    EXPECT_EQ(value, first) << GroupName(i) << " disagrees with "
                            << GroupName(0) << ": a push was applied in part";
  }
  EXPECT_GE(first, acknowledged);
  EXPECT_LE(first, acknowledged + in_flight);
  return first;
}

TEST(CrashRecoveryE2ETest, RacingDeletesAndMultiVariablePushesRestartWhole) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/race_data";
  std::mt19937 rng(7);
  int64_t count = 0;  // What the group holds, as last verified.
  int64_t total_acknowledged = 0;
  constexpr int kRounds = 8;
  constexpr int kPushers = 3;
  for (int round = 0; round < kRounds; ++round) {
    // No checkpoints: start-up must replay everything from the log.
    auto server = ServerProcess::Start(
        {"--data_dir=" + dir, "--initialize_data_dir",
         "--checkpoint_interval_seconds=0",
         round % 2 == 0 ? "--wal_fsync=always" : "--wal_fsync=everysec"});
    ASSERT_TRUE(server.ok()) << "round " << round << ": " << server.status();
    auto client = ParameterServerClient::Connect((*server)->target());
    ASSERT_TRUE(client.ok());
    if (round == 0) {
      for (int i = 0; i < kGroup; ++i) {
        ASSERT_TRUE(CreateConstant(**client, GroupName(i), 0).ok());
      }
    } else {
      // Start-up succeeded; the contended variable reads or is absent, and
      // every group push came back whole or not at all.
      absl::StatusOr<FetchedVariable> read = (*client)->ReadVariable("race/x");
      EXPECT_TRUE(read.ok() || absl::IsNotFound(read.status()))
          << read.status();
      count = static_cast<int64_t>(CheckGroup(**client, count, kPushers));
      if (HasFailure()) return;
    }
    std::atomic<int64_t> acknowledged{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kPushers; ++t) {
      threads.emplace_back(PushGroup, (*server)->target(), &acknowledged);
    }
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back(ChurnContended, (*server)->target(), round * 10 + t);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    (*server)->StopWith(SIGKILL);
    for (std::thread& thread : threads) thread.join();
    // The acknowledged count is a lower bound; CheckGroup allows in-flight.
    count += acknowledged;
    total_acknowledged += acknowledged;
  }
  EXPECT_GT(total_acknowledged, kRounds)
      << "the clients did too little to mean much";
  auto server =
      ServerProcess::Start({"--data_dir=" + dir, "--initialize_data_dir"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ParameterServerClient::Connect((*server)->target());
  ASSERT_TRUE(client.ok());
  CheckGroup(**client, count, kPushers);
}

}  // namespace
}  // namespace paramserver
