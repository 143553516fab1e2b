// Load test of a running ps_server: N concurrent clients, each with its own
// channel, mix GetVariable, conditional Pull and ASSIGN_ADD Push for a fixed
// time. Prints throughput and latency percentiles per operation, then checks
// that no request failed and that the final state matches what was
// acknowledged. Exits 0 on PASS, 1 on FAIL, 2 on a bad command line.
//
//   load_test --server=127.0.0.1:PORT [--clients=64] [--seconds=10]
//             [--variables=32] [--elements=4096] [--mix=get:40,pull:40,push:20]
//
// Every push adds 1.0f to each element of one variable, and variables start at
// zero, so a variable at version v must hold v - 1 everywhere: every pulled
// value is checked against its version during the run, and at the end each
// variable must hold its number of acknowledged pushes at version 1 + pushes.
// The variables are created under --scope, which must not exist yet.
//
// benchmarks/run_load_test.sh starts a server and runs this.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "ps_server HOST:PORT.");
ABSL_FLAG(int, clients, 64,
          "Concurrent clients, each a thread with its own channel.");
ABSL_FLAG(double, seconds, 10, "How long the clients run.");
ABSL_FLAG(int, variables, 32, "Variables to create and load.");
ABSL_FLAG(int64_t, elements, 4096, "float32 elements per variable.");
ABSL_FLAG(std::string, mix, "get:40,pull:40,push:20",
          "Relative weights of the operations: get, pull, push.");
ABSL_FLAG(std::string, scope, "load_test",
          "Scope of the variables; must be new.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the clients' random choices.");

namespace paramserver {
namespace {

using Clock = std::chrono::steady_clock;

enum Op { kGet, kPull, kPush, kNumOps };
constexpr std::array<const char*, kNumOps> kOpNames = {"get", "pull", "push"};
constexpr int kMaxPullBatch = 4;
constexpr int kMaxReportedProblems = 5;

struct Config {
  std::string server;
  std::string scope;
  int clients = 0;
  double seconds = 0;
  int variables = 0;
  int64_t elements = 0;
  std::array<int, kNumOps> weights{};
  uint64_t seed = 0;
};

// Parses "get:40,pull:40,push:20"; operations left out get weight 0.
absl::Status ParseMix(absl::string_view text,
                      std::array<int, kNumOps>& weights) {
  weights = {};
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, ':');
    auto name = std::find(kOpNames.begin(), kOpNames.end(), kv.first);
    int weight = 0;
    if (name == kOpNames.end() || !absl::SimpleAtoi(kv.second, &weight) ||
        weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --mix entry '", part, "'"));
    }
    weights[name - kOpNames.begin()] = weight;
  }
  if (weights[kGet] + weights[kPull] + weights[kPush] == 0) {
    return absl::InvalidArgumentError("--mix has no positive weight");
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  config.server = absl::GetFlag(FLAGS_server);
  config.scope = absl::GetFlag(FLAGS_scope);
  config.clients = absl::GetFlag(FLAGS_clients);
  config.seconds = absl::GetFlag(FLAGS_seconds);
  config.variables = absl::GetFlag(FLAGS_variables);
  config.elements = absl::GetFlag(FLAGS_elements);
  config.seed = absl::GetFlag(FLAGS_seed);
  // Float32 counts stay exact up to 2^24, far beyond any run's pushes.
  if (config.clients < 1 || config.seconds <= 0 || config.variables < 1 ||
      config.elements < 1) {
    return absl::InvalidArgumentError(
        "--clients, --seconds, --variables and --elements must be positive");
  }
  if (absl::Status status = ParseMix(absl::GetFlag(FLAGS_mix), config.weights);
      !status.ok()) {
    return status;
  }
  return config;
}

std::string VariableName(int index) { return absl::StrCat("v", index); }

std::string FullName(const Config& config, int index) {
  return absl::StrCat(config.scope, "/", VariableName(index));
}

// True when `value` is `elements` floats all equal to `expected`.
bool HoldsEverywhere(absl::string_view value, int64_t elements,
                     float expected) {
  if (static_cast<int64_t>(value.size()) != elements * 4) return false;
  for (int64_t i = 0; i < elements; ++i) {
    float element;
    std::memcpy(&element, value.data() + i * 4, sizeof element);
    if (element != expected) return false;
  }
  return true;
}

// What the clients share: the acknowledged pushes per variable and the first
// few problems, kept to print. Thread-safe.
class SharedState {
 public:
  explicit SharedState(int variables) : acknowledged_pushes_(variables) {}

  void AcknowledgePush(int variable) { ++acknowledged_pushes_[variable]; }
  int64_t AcknowledgedPushes(int variable) const {
    return acknowledged_pushes_[variable];
  }

  void ReportProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    if (problems_.size() < kMaxReportedProblems)
      problems_.push_back(std::move(problem));
  }
  std::vector<std::string> Problems() const {
    absl::MutexLock lock(&mu_);
    return problems_;
  }

 private:
  std::vector<std::atomic<int64_t>> acknowledged_pushes_;
  mutable absl::Mutex mu_;
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

// One thread's figures; merged after the run.
struct WorkerStats {
  std::array<std::vector<int64_t>, kNumOps> latencies_ns;  // Successful calls.
  std::array<int64_t, kNumOps> errors{};
  int64_t values_checked = 0;
  int64_t inconsistencies = 0;
};

// One client thread: its own channel, RNG and known versions.
class Worker {
 public:
  Worker(const Config& config, int index,
         std::unique_ptr<ParameterServerClient> client,
         const std::string& delta, SharedState& shared)
      : config_(config),
        client_(std::move(client)),
        delta_(delta),
        shared_(shared),
        rng_(config.seed * 1000003 + index),
        op_choice_(config.weights.begin(), config.weights.end()),
        variable_choice_(0, config.variables - 1),
        known_versions_(config.variables, 0) {}

  void Run(Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      const Op op = static_cast<Op>(op_choice_(rng_));
      const Clock::time_point start = Clock::now();
      const absl::Status status = op == kGet    ? Get()
                                  : op == kPull ? Pull()
                                                : Push();
      const Clock::time_point end = Clock::now();
      if (status.ok()) {
        stats_.latencies_ns[op].push_back((end - start) /
                                          std::chrono::nanoseconds(1));
      } else {
        ++stats_.errors[op];
        shared_.ReportProblem(
            absl::StrCat(kOpNames[op], ": ", status.ToString()));
      }
    }
  }

  const WorkerStats& stats() const { return stats_; }

 private:
  absl::Status Get() {
    VariableRequest request;
    request.scope = config_.scope;
    request.name = VariableName(variable_choice_(rng_));
    request.reuse = ReuseMode::kReuse;
    request.shape = TensorShape{config_.elements};
    return client_->GetVariable(request).status();
  }

  absl::Status Pull() {
    std::vector<int> chosen;
    const int batch = std::uniform_int_distribution<int>(
        1, std::min(kMaxPullBatch, config_.variables))(rng_);
    while (static_cast<int>(chosen.size()) < batch) {
      const int variable = variable_choice_(rng_);
      if (std::find(chosen.begin(), chosen.end(), variable) == chosen.end()) {
        chosen.push_back(variable);
      }
    }
    std::vector<PullItemSpec> items;
    for (int variable : chosen) {
      items.push_back({FullName(config_, variable), known_versions_[variable]});
    }
    absl::StatusOr<std::vector<PulledValue>> pulled = client_->Pull(items);
    if (!pulled.ok()) return pulled.status();
    for (size_t i = 0; i < chosen.size(); ++i)
      CheckPulled(chosen[i], (*pulled)[i]);
    return absl::OkStatus();
  }

  // A read never goes back in time for this client, and a value at version v
  // holds v - 1 everywhere.
  void CheckPulled(int variable, const PulledValue& pulled) {
    const int64_t known = known_versions_[variable];
    const int64_t version = pulled.info.version;
    std::string problem;
    if (pulled.unchanged) {
      if (known == 0) problem = "unchanged reported for a value never pulled";
    } else if (version < known) {
      problem = absl::StrCat("version went back from ", known, " to ", version);
    } else if (!HoldsEverywhere(pulled.value, config_.elements,
                                static_cast<float>(version - 1))) {
      problem = absl::StrCat("value at version ", version, " does not hold ",
                             version - 1, " everywhere");
    } else {
      known_versions_[variable] = version;
      ++stats_.values_checked;
    }
    if (!problem.empty()) {
      ++stats_.inconsistencies;
      shared_.ReportProblem(
          absl::StrCat("pull ", FullName(config_, variable), ": ", problem));
    }
  }

  absl::Status Push() {
    const int variable = variable_choice_(rng_);
    PushSpec push;
    push.updates = {{FullName(config_, variable), UpdateKind::kAssignAdd,
                     delta_, std::nullopt}};
    absl::Status status = client_->Push(push).status();
    if (status.ok()) shared_.AcknowledgePush(variable);
    return status;
  }

  const Config& config_;
  const std::unique_ptr<ParameterServerClient> client_;
  const std::string& delta_;
  SharedState& shared_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> op_choice_;
  std::uniform_int_distribution<int> variable_choice_;
  std::vector<int64_t> known_versions_;  // 0: never pulled.
  WorkerStats stats_;
};

absl::Status CreateVariables(ParameterServerClient& client,
                             const Config& config) {
  for (int i = 0; i < config.variables; ++i) {
    VariableRequest request;
    request.scope = config.scope;
    request.name = VariableName(i);
    request.reuse = ReuseMode::kCreate;
    request.shape = TensorShape{config.elements};
    request.initializer.kind = InitializerKind::kZeros;
    if (absl::Status status = client.GetVariable(request).status();
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// One client per thread, each already through one untimed call, so that
// connection set-up stays out of the figures.
absl::StatusOr<std::vector<std::unique_ptr<Worker>>> MakeWorkers(
    const Config& config, const std::string& delta, SharedState& shared) {
  std::vector<std::unique_ptr<Worker>> workers;
  VariableRequest warm_up;
  warm_up.scope = config.scope;
  warm_up.name = VariableName(0);
  warm_up.reuse = ReuseMode::kReuse;
  for (int i = 0; i < config.clients; ++i) {
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(config.server);
    if (!client.ok()) return client.status();
    if (absl::Status status = (*client)->GetVariable(warm_up).status();
        !status.ok()) {
      return status;
    }
    workers.push_back(
        std::make_unique<Worker>(config, i, *std::move(client), delta, shared));
  }
  return workers;
}

// Runs every worker on its own thread; returns the elapsed seconds.
double RunWorkers(const Config& config,
                  std::vector<std::unique_ptr<Worker>>& workers) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(config.seconds));
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&worker, deadline] { worker->Run(deadline); });
  }
  for (std::thread& thread : threads) thread.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Nearest-rank percentile of sorted latencies, in microseconds.
double PercentileUs(const std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(fraction * sorted.size()));
  return sorted[std::max<size_t>(rank, 1) - 1] / 1e3;
}

void PrintRow(const char* op, std::vector<int64_t> latencies, int64_t errors,
              double seconds) {
  std::sort(latencies.begin(), latencies.end());
  std::printf("%-6s %10zu %10.0f %10.1f %10.1f %10.1f %10.1f %8lld\n", op,
              latencies.size(), latencies.size() / seconds,
              PercentileUs(latencies, 0.5), PercentileUs(latencies, 0.99),
              PercentileUs(latencies, 0.999),
              latencies.empty() ? 0.0 : latencies.back() / 1e3,
              static_cast<long long>(errors));
}

// Prints the table; returns the merged stats.
WorkerStats Report(const std::vector<std::unique_ptr<Worker>>& workers,
                   double seconds) {
  WorkerStats total;
  std::printf("%-6s %10s %10s %10s %10s %10s %10s %8s\n", "op", "count",
              "ops/s", "p50 us", "p99 us", "p999 us", "max us", "errors");
  std::vector<int64_t> all;
  int64_t all_errors = 0;
  for (int op = 0; op < kNumOps; ++op) {
    std::vector<int64_t>& merged = total.latencies_ns[op];
    for (const auto& worker : workers) {
      const WorkerStats& stats = worker->stats();
      merged.insert(merged.end(), stats.latencies_ns[op].begin(),
                    stats.latencies_ns[op].end());
      total.errors[op] += stats.errors[op];
    }
    PrintRow(kOpNames[op], merged, total.errors[op], seconds);
    all.insert(all.end(), merged.begin(), merged.end());
    all_errors += total.errors[op];
  }
  PrintRow("all", std::move(all), all_errors, seconds);
  for (const auto& worker : workers) {
    total.values_checked += worker->stats().values_checked;
    total.inconsistencies += worker->stats().inconsistencies;
  }
  return total;
}

// Pulls every variable and compares it with the acknowledged pushes; returns
// the number of variables that disagree.
absl::StatusOr<int> VerifyFinalState(ParameterServerClient& client,
                                     const Config& config,
                                     SharedState& shared) {
  std::vector<PullItemSpec> items;
  for (int i = 0; i < config.variables; ++i)
    items.push_back({FullName(config, i), 0});
  absl::StatusOr<std::vector<PulledValue>> pulled = client.Pull(items);
  if (!pulled.ok()) return pulled.status();
  int mismatches = 0;
  for (int i = 0; i < config.variables; ++i) {
    const int64_t pushes = shared.AcknowledgedPushes(i);
    const PulledValue& value = (*pulled)[i];
    if (value.info.version == 1 + pushes &&
        HoldsEverywhere(value.value, config.elements,
                        static_cast<float>(pushes))) {
      continue;
    }
    ++mismatches;
    shared.ReportProblem(absl::StrCat(
        "final ", FullName(config, i), ": version ", value.info.version,
        ", acknowledged pushes ", pushes, ", value does not match"));
  }
  return mismatches;
}

// Float32 1.0 in every element: the delta of each push.
std::string OnesDelta(int64_t elements) {
  const float one = 1.0f;
  std::string delta;
  for (int64_t i = 0; i < elements; ++i) {
    delta.append(reinterpret_cast<const char*>(&one), sizeof one);
  }
  return delta;
}

// Prints what was checked and the problems; returns true for PASS.
bool Judge(const WorkerStats& total, double seconds,
           const absl::StatusOr<int>& mismatches, int64_t pushes,
           const SharedState& shared) {
  const int64_t errors =
      total.errors[kGet] + total.errors[kPull] + total.errors[kPush];
  const std::string final_state =
      !mismatches.ok()   ? "not read"
      : *mismatches == 0 ? "every variable matches"
                         : absl::StrCat(*mismatches, " variable(s) differ");
  std::printf(
      "elapsed %.2f s; %lld pulled values checked during the run, %lld "
      "inconsistent; %lld unexpected errors; %lld acknowledged pushes; "
      "final state: %s\n",
      seconds, static_cast<long long>(total.values_checked),
      static_cast<long long>(total.inconsistencies),
      static_cast<long long>(errors), static_cast<long long>(pushes),
      final_state.c_str());
  for (const std::string& problem : shared.Problems()) {
    std::printf("  problem: %s\n", problem.c_str());
  }
  const bool pass = errors == 0 && total.inconsistencies == 0 &&
                    mismatches.ok() && *mismatches == 0;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  return pass;
}

int Main(const Config& config) {
  std::printf(
      "load_test: %d clients, %g s, %d variables x %lld float32, mix "
      "get:%d,pull:%d,push:%d, server %s\n",
      config.clients, config.seconds, config.variables,
      static_cast<long long>(config.elements), config.weights[kGet],
      config.weights[kPull], config.weights[kPush], config.server.c_str());
  absl::StatusOr<std::unique_ptr<ParameterServerClient>> admin =
      ParameterServerClient::Connect(config.server);
  absl::Status status =
      admin.ok() ? CreateVariables(**admin, config) : admin.status();
  SharedState shared(config.variables);
  const std::string delta = OnesDelta(config.elements);
  absl::StatusOr<std::vector<std::unique_ptr<Worker>>> workers =
      status.ok() ? MakeWorkers(config, delta, shared) : status;
  if (!workers.ok()) {
    std::printf("set-up failed: %s\nFAIL\n",
                workers.status().ToString().c_str());
    return 1;
  }
  const double seconds = RunWorkers(config, *workers);
  const WorkerStats total = Report(*workers, seconds);
  absl::StatusOr<int> mismatches = VerifyFinalState(**admin, config, shared);
  int64_t pushes = 0;
  for (int i = 0; i < config.variables; ++i)
    pushes += shared.AcknowledgedPushes(i);
  if (!mismatches.ok()) {
    shared.ReportProblem("final pull: " + mismatches.status().ToString());
  }
  return Judge(total, seconds, mismatches, pushes, shared) ? 0 : 1;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<paramserver::Config> config = paramserver::ConfigFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  return paramserver::Main(*config);
}
