// The optimizers on variables large enough to be updated on several threads
// give exactly what they give one window at a time on one thread: every
// element, and its slots, updated once.
#include "server/optimizer.h"

#include <cstdint>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

struct State {
  std::vector<float> var;
  std::vector<std::vector<float>> slots;
  std::vector<float*> SlotPointers(int64_t offset) {
    std::vector<float*> pointers;
    for (std::vector<float>& slot : slots)
      pointers.push_back(slot.data() + offset);
    return pointers;
  }
};

TEST(OptimizerTest, LargeVariablesOnSeveralThreadsMatchOneWindowAtATime) {
  // Three threads' worth, and an odd tail.
  const int64_t n = 3 * kMinOptimizerElementsPerThread + 5;
  absl::BitGen gen;
  std::vector<float> grad(n);
  for (float& g : grad) g = absl::Uniform(gen, -1.0f, 1.0f);
  OptimizerSpec momentum;
  momentum.kind = OptimizerKind::kMomentum;
  momentum.use_nesterov = true;
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  for (const OptimizerSpec& optimizer :
       {OptimizerSpec(), momentum, adagrad, adam}) {
    State whole, windows;
    whole.var.assign(n, 0.5f);
    for (const SlotSpec& slot : SlotsFor(optimizer)) {
      whole.slots.emplace_back(n, static_cast<float>(slot.initial_value));
    }
    windows = whole;
    for (int64_t step = 1; step <= 2; ++step) {
      ApplyOptimizer<float>(optimizer, step, n, grad.data(), whole.var.data(),
                            whole.SlotPointers(0));
      constexpr int64_t kWindow = 4099;
      for (int64_t first = 0; first < n; first += kWindow) {
        const int64_t count = std::min(kWindow, n - first);
        ApplyOptimizer<float>(optimizer, step, count, grad.data() + first,
                              windows.var.data() + first,
                              windows.SlotPointers(first));
      }
    }
    const int kind = static_cast<int>(optimizer.kind);
    ASSERT_EQ(whole.var, windows.var) << "optimizer " << kind;
    ASSERT_EQ(whole.slots, windows.slots) << "optimizer " << kind;
    EXPECT_NE(whole.var[n - 1], 0.5f) << "optimizer " << kind;
  }
}

}  // namespace
}  // namespace paramserver
