// Model sync: each worker, every step, pulls every variable of a model and
// pushes one gradient per variable, applied with SGD on the server. The
// gradients are made once, so a step is the synchronisation alone, as in
// benchmarks/torch_rpc_model_sync.py (PyTorch's parameter-server pattern),
// which benchmarks/run_model_sync_benchmark.sh runs in the same run.
//
//   model_sync_benchmark --server=HOST:PORT --workers=2 --model=resnet50
//
// Workers are processes (forked before any gRPC call), each with its own
// connection. Prints one JSON line: steps per second, summed over workers.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "benchmarks/model_shapes.h"
#include "client/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server.");
ABSL_FLAG(int, workers, 1, "Worker processes.");
ABSL_FLAG(std::string, model, "resnet50",
          "resnet50 (161 variables, 102 MB) or single64mb (one variable).");
ABSL_FLAG(std::string, pull, "into",
          "into: PullInto buffers the worker reuses every step; strings: "
          "Pull, which returns fresh strings.");
ABSL_FLAG(std::string, mode, "sync",
          "sync: a pull and a push each step; pull or push: only that.");
ABSL_FLAG(int, warmup, 2, "Untimed steps per worker first.");
ABSL_FLAG(int, min_steps, 5, "Timed steps per worker, at least.");
ABSL_FLAG(double, min_seconds, 5, "Timed seconds per worker, at least.");

namespace paramserver {
namespace {

std::vector<TensorShape> ModelShapes() {
  if (absl::GetFlag(FLAGS_model) == "single64mb") {
    return {TensorShape{int64_t{16} << 20}};
  }
  return ResNet50Shapes();
}

std::string VariableName(size_t i) {
  return absl::StrCat("model_sync/", absl::GetFlag(FLAGS_model), "/v", i);
}

// The shapes above are valid, so their element counts are.
int64_t Elements(const TensorShape& shape) { return *NumElements(shape); }

// Creates the model's variables (once; later runs reuse them).
int CreateModel(const std::vector<TensorShape>& shapes) {
  auto client = ParameterServerClient::Connect(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return 1;
  for (size_t i = 0; i < shapes.size(); ++i) {
    VariableRequest request;
    request.name = VariableName(i);
    request.shape = shapes[i];
    request.reuse = ReuseMode::kAutoReuse;
    request.initializer.kind = InitializerKind::kZeros;
    auto got = (*client)->GetVariable(request, /*return_value=*/false);
    if (!got.ok()) {
      std::fprintf(stderr, "create %s: %s\n", request.name.c_str(),
                   got.status().ToString().c_str());
      return 1;
    }
  }
  return 0;
}

// One worker: steps and seconds, written to `fd` as text.
int Work(const std::vector<TensorShape>& shapes, int fd) {
  auto client = ParameterServerClient::Connect(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return 1;
  std::vector<PullItemSpec> items;
  std::vector<PullIntoItem> into_items;
  std::vector<std::vector<char>> weights;  // The worker's copy of the model.
  std::vector<std::string> gradients;
  weights.reserve(shapes.size());  // The spans point into its elements.
  for (size_t i = 0; i < shapes.size(); ++i) {
    items.push_back({VariableName(i), 0});
    weights.emplace_back(Elements(shapes[i]) * sizeof(float));
    into_items.push_back({VariableName(i), 0, absl::MakeSpan(weights.back())});
    const std::vector<float> values(Elements(shapes[i]), 1e-3f);
    gradients.emplace_back(reinterpret_cast<const char*>(values.data()),
                           values.size() * sizeof(float));
  }
  PushSpec push;
  push.optimizer.kind = OptimizerKind::kSgd;
  push.optimizer.learning_rate = 0.01;
  for (size_t i = 0; i < shapes.size(); ++i) {
    push.updates.push_back({VariableName(i), UpdateKind::kApplyGradient,
                            gradients[i], std::nullopt});
  }
  const bool pull_into = absl::GetFlag(FLAGS_pull) == "into";
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const auto step = [&]() -> absl::Status {
    if (mode == "push") {
      // Skips the pull.
    } else if (pull_into) {
      auto pulled = (*client)->PullInto(into_items);
      if (!pulled.ok()) return pulled.status();
    } else {
      auto pulled = (*client)->Pull(items);
      if (!pulled.ok()) return pulled.status();
    }
    if (mode == "pull") return absl::OkStatus();
    push.push_id.clear();  // A new id each step.
    return (*client)->Push(push).status();
  };
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) {
    if (absl::Status s = step(); !s.ok()) {
      std::fprintf(stderr, "step: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  const absl::Time start = absl::Now();
  int steps = 0;
  double seconds = 0;
  do {
    if (absl::Status s = step(); !s.ok()) {
      std::fprintf(stderr, "step: %s\n", s.ToString().c_str());
      return 1;
    }
    ++steps;
    seconds = absl::ToDoubleSeconds(absl::Now() - start);
  } while (steps < absl::GetFlag(FLAGS_min_steps) ||
           seconds < absl::GetFlag(FLAGS_min_seconds));
  const std::string line = absl::StrFormat("%d %.6f\n", steps, seconds);
  return write(fd, line.data(), line.size()) == ssize_t(line.size()) ? 0 : 1;
}

// Runs `fn` in a child process; returns its exit code.
template <typename Fn>
pid_t Spawn(Fn fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid;
}

int Run() {
  const std::vector<TensorShape> shapes = ModelShapes();
  int64_t bytes = 0;
  for (const TensorShape& shape : shapes) bytes += Elements(shape) * 4;
  int status = 0;
  waitpid(Spawn([&] { return CreateModel(shapes); }), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;

  const int workers = absl::GetFlag(FLAGS_workers);
  std::vector<int> fds;
  std::vector<pid_t> pids;
  for (int w = 0; w < workers; ++w) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 1;
    pids.push_back(Spawn([&] {
      close(pipe_fds[0]);
      return Work(shapes, pipe_fds[1]);
    }));
    close(pipe_fds[1]);
    fds.push_back(pipe_fds[0]);
  }
  double total = 0;
  std::string per_worker;
  for (int w = 0; w < workers; ++w) {
    char buffer[64] = {};
    const ssize_t n = read(fds[w], buffer, sizeof(buffer) - 1);
    close(fds[w]);
    waitpid(pids[w], &status, 0);
    int steps = 0;
    double seconds = 0;
    if (n <= 0 || std::sscanf(buffer, "%d %lf", &steps, &seconds) != 2 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "worker %d failed\n", w);
      return 1;
    }
    total += steps / seconds;
    absl::StrAppend(&per_worker, per_worker.empty() ? "" : ", ",
                    absl::StrFormat("%.3f", steps / seconds));
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string pull =
      absl::GetFlag(FLAGS_pull) == "into" ? "PullInto" : "Pull";
  const std::string calls = mode == "pull"   ? "one " + pull
                            : mode == "push" ? "one Push"
                                             : "one " + pull + " and one Push";
  // Bytes moved per second: each step moves the model once each way asked.
  const double gb_per_second =
      total * static_cast<double>(bytes) * (mode == "sync" ? 2 : 1) / 1e9;
  std::printf(
      "{\"peer\": \"paramserver (C++ client, %s per step)\", \"mode\": "
      "\"%s\", \"model\": \"%s\", \"variables\": %zu, \"bytes\": %lld, "
      "\"workers\": %d, \"steps_per_second\": %.3f, \"gb_per_second\": "
      "%.3f, \"per_worker\": [%s]}\n",
      calls.c_str(), mode.c_str(), absl::GetFlag(FLAGS_model).c_str(),
      shapes.size(), static_cast<long long>(bytes), workers, total,
      gb_per_second, per_worker.c_str());
  return 0;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return paramserver::Run();
}
