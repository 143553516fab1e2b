// The server's optimizer step on one large variable, as a push applies it
// (the gradient gathered in one buffer), every optimizer, on the cores the
// process may use. Prints one JSON line per optimizer with the bytes of
// gradient applied per second.
//
//   bazel run //benchmarks:optimizer_benchmark -- --elements=16777216

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/parallel_for.h"
#include "server/optimizer.h"

ABSL_FLAG(int64_t, elements, int64_t{16} << 20,
          "float32 elements (16 M: 64 MB).");
ABSL_FLAG(double, min_seconds, 2.0, "Run each optimizer at least this long.");

namespace paramserver {
namespace {

void Run(const char* name, const OptimizerSpec& optimizer, int64_t n,
         double min_seconds) {
  const size_t bytes = n * sizeof(float);
  const std::vector<float> gradient(n, 1e-3f);
  const absl::string_view grad(reinterpret_cast<const char*>(gradient.data()),
                               bytes);
  std::vector<float> var(n, 0.5f);
  std::vector<std::vector<float>> slot_storage;
  std::vector<float*> slots;
  for (const SlotSpec& slot : SlotsFor(optimizer)) {
    slot_storage.emplace_back(n, static_cast<float>(slot.initial_value));
  }
  for (auto& slot : slot_storage) slots.push_back(slot.data());
  int64_t steps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < min_seconds || steps < 3) {
    ApplyOptimizer<float>(optimizer, steps + 1, grad, var.data(), slots);
    ++steps;
    seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  std::printf(
      "{\"optimizer\": \"%s\", \"bytes\": %zu, \"threads\": %lld, "
      "\"steps_per_second\": %.2f, \"gb_per_second\": %.3f}\n",
      name, bytes, static_cast<long long>(UsableCores()), steps / seconds,
      steps * static_cast<double>(bytes) / seconds / 1e9);
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using paramserver::OptimizerKind;
  const int64_t n = absl::GetFlag(FLAGS_elements);
  const double seconds = absl::GetFlag(FLAGS_min_seconds);
  for (const auto& [name, kind] :
       {std::pair{"sgd", OptimizerKind::kSgd},
        std::pair{"momentum", OptimizerKind::kMomentum},
        std::pair{"adagrad", OptimizerKind::kAdagrad},
        std::pair{"adam", OptimizerKind::kAdam},
        std::pair{"ftrl", OptimizerKind::kFtrl}}) {
    paramserver::OptimizerSpec optimizer;
    optimizer.kind = kind;
    paramserver::Run(name, optimizer, n, seconds);
  }
  return 0;
}
