#ifndef PARAM_SERVER_SERVER_STORE_COUNTERS_H_
#define PARAM_SERVER_SERVER_STORE_COUNTERS_H_
// What the variable store counts for operators (server/monitoring.h):
// optimizer steps applied, by optimizer, and pushes refused for bounded
// staleness. Counted when a push takes effect (or is refused), so after N
// applied gradient updates of one variable the count rose by exactly N.
// Thread-safe, lock-free.

#include <atomic>
#include <cstdint>

#include "common/update_spec.h"

namespace paramserver {

class StoreCounters {
 public:
  static constexpr int kOptimizers = 6;  // OptimizerKind's values.

  // `variables` dense variables (or one variable's rows) took a step.
  void AddOptimizerSteps(OptimizerKind kind, uint64_t variables) {
    steps_[static_cast<int>(kind)].fetch_add(variables,
                                             std::memory_order_relaxed);
  }
  void AddStaleRejection() {
    stale_rejections_.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t optimizer_steps(OptimizerKind kind) const {
    return steps_[static_cast<int>(kind)].load(std::memory_order_relaxed);
  }
  uint64_t stale_rejections() const {
    return stale_rejections_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> steps_[kOptimizers] = {};
  std::atomic<uint64_t> stale_rejections_{0};
};

// TensorFlow's lower-case names: "sgd", "momentum", "adagrad", "adam",
// "ftrl", "lazy_adam".
inline const char* OptimizerLabel(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kMomentum:
      return "momentum";
    case OptimizerKind::kAdagrad:
      return "adagrad";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kFtrl:
      return "ftrl";
    case OptimizerKind::kLazyAdam:
      return "lazy_adam";
  }
  return "unknown";
}

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_STORE_COUNTERS_H_
