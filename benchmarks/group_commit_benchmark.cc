// Pushes under --wal_fsync=always while a scope is deleted and re-created:
// N writer threads push ASSIGN updates to an in-process store whose change
// log is a real write-ahead log on disk, one more thread creates a scope of
// variables and deletes it, over and over. Prints pushes per second and the
// push latency's p50 / p99 / max, and the scope cycles per second.
//
//   bazel build //benchmarks:group_commit_benchmark
//   bazel-bin/benchmarks/group_commit_benchmark --dir=/some/disk/dir
//
// --dir must be on a disk (fsync on tmpfs costs nothing); it is emptied.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "server/durability/durability.h"
#include "server/durability/env.h"
#include "server/logging.h"
#include "server/variable_store.h"

ABSL_FLAG(std::string, dir, "", "Data directory on a disk; emptied first.");
ABSL_FLAG(int, writers, 8, "Threads pushing ASSIGN updates.");
ABSL_FLAG(bool, shared_variable, false,
          "All writers push to one variable (else one variable each).");
ABSL_FLAG(int64_t, elements, 1024, "float32 elements per variable.");
ABSL_FLAG(int, scope_size, 32,
          "Variables the deleting thread creates per cycle.");
ABSL_FLAG(bool, delete_scopes, true, "Run the scope create/delete thread.");
ABSL_FLAG(double, seconds, 10, "How long to run.");

namespace paramserver {
namespace {

using Clock = std::chrono::steady_clock;

void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, std::string(status.message()).c_str());
  std::exit(1);
}

void CreateVariable(VariableStore& store, const std::string& scope,
                    const std::string& name, int64_t elements) {
  VariableRequest request;
  request.scope = scope;
  request.name = name;
  request.shape = TensorShape{elements};
  request.initializer.kind = InitializerKind::kZeros;
  Check(store.GetVariable(request).status(), "create");
}

// Pushes to `name` until `stop`; returns each push's latency in microseconds.
std::vector<double> Writer(VariableStore& store, const std::string& name,
                           int64_t elements, const std::atomic<bool>& stop) {
  const std::string value(elements * sizeof(float),
                          '\1');  // Updates point into it.
  PushSpec push;
  push.updates.push_back({name, UpdateKind::kAssign, value, std::nullopt});
  std::vector<double> latencies;
  while (!stop.load(std::memory_order_relaxed)) {
    const Clock::time_point start = Clock::now();
    Check(store.Push(push).status(), "push");
    latencies.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count());
  }
  return latencies;
}

// Creates and deletes the scope "churn" until `stop`; returns the cycles.
int64_t Deleter(VariableStore& store, int scope_size, int64_t elements,
                const std::atomic<bool>& stop) {
  int64_t cycles = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < scope_size; ++i) {
      CreateVariable(store, "churn", absl::StrCat("v", i), elements);
    }
    Check(store.DeleteScope("churn").status(), "delete scope");
    ++cycles;
  }
  return cycles;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index =
      std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

int Run() {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    std::fprintf(stderr, "--dir is required\n");
    return 2;
  }
  SetLogLevel(LogLevel::kError);
  Check(RemoveAll(dir), "empty --dir");
  const int writers = absl::GetFlag(FLAGS_writers);
  const int64_t elements = absl::GetFlag(FLAGS_elements);
  std::unique_ptr<VariableStore> store;
  DurabilityOptions options;
  options.data_dir = dir;
  options.fsync_policy = FsyncPolicy::kAlways;
  absl::StatusOr<std::unique_ptr<Durability>> durability =
      Durability::Open(options, {}, &store);
  Check(durability.status(), "open");

  const bool shared = absl::GetFlag(FLAGS_shared_variable);
  for (int w = 0; w < (shared ? 1 : writers); ++w) {
    CreateVariable(*store, "bench", absl::StrCat("v", w), elements);
  }
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      latencies[w] = Writer(*store, absl::StrCat("bench/v", shared ? 0 : w),
                            elements, stop);
    });
  }
  int64_t cycles = 0;
  std::thread deleter;
  if (absl::GetFlag(FLAGS_delete_scopes)) {
    deleter = std::thread([&] {
      cycles = Deleter(*store, absl::GetFlag(FLAGS_scope_size), elements, stop);
    });
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  if (deleter.joinable()) deleter.join();

  std::vector<double> all;
  for (const std::vector<double>& part : latencies) {
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end());
  std::printf(
      "writers=%d shared_variable=%d elements=%lld scope_size=%d: "
      "%.0f pushes/s, p50 %.0f us, p99 %.0f us, max %.0f us; "
      "%.1f scope cycles/s\n",
      writers, shared ? 1 : 0, static_cast<long long>(elements),
      absl::GetFlag(FLAGS_scope_size), all.size() / seconds,
      Percentile(all, 0.5), Percentile(all, 0.99), all.empty() ? 0 : all.back(),
      cycles / seconds);
  Check((*durability)->Close(), "close");
  return 0;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return paramserver::Run();
}
