// Durability against real crashes: a client creates, assigns and deletes
// variables while the server is killed with SIGKILL at random moments and
// restarted on the same data directory, many times. Every operation the
// client saw acknowledged must be there afterwards, with its value.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
  return {"--data_dir=" + dir, "--wal_fsync=always",
          "--checkpoint_interval_seconds=0.15"};
}

// One round of client work until the server stops answering.
void Work(ParameterServerClient& client, std::map<std::string, Expectation>& model,
          std::mt19937& rng, float& next_value) {
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

void Verify(ParameterServerClient& client, std::map<std::string, Expectation>& model) {
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
      ASSERT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
    }
    const bool matches_acknowledged = actual == e.acknowledged;
    const bool matches_in_flight = e.in_flight.has_value() && actual == *e.in_flight;
    ASSERT_TRUE(matches_acknowledged || matches_in_flight)
        << name << ": found " << (actual ? std::to_string(*actual) : "nothing")
        << ", acknowledged " << (e.acknowledged ? std::to_string(*e.acknowledged) : "nothing");
    // From here on the state found is the truth.
    e.acknowledged = actual;
    e.in_flight.reset();
  }
}

TEST(CrashRecoveryE2ETest, AcknowledgedOperationsSurviveKillNine) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/crash_data";
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

}  // namespace
}  // namespace paramserver
