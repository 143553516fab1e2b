#ifndef PARAM_SERVER_SERVER_OPTIMIZER_H_
#define PARAM_SERVER_SERVER_OPTIMIZER_H_

// The update rules of TensorFlow 1.x's optimizers (training_ops.cc), on raw
// arrays. Slots are the optimizer's per-variable state, as TF's slot
// variables. All functions require n elements in every array.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/slot_names.h"
#include "common/update_spec.h"

namespace paramserver {

// A slot TensorFlow would create for this optimizer: its name suffix
// ("Momentum" makes v/Momentum) and its initial value.
struct SlotSpec {
  std::string suffix;
  double initial_value;
};
std::vector<SlotSpec> SlotsFor(const OptimizerSpec& optimizer);

// INVALID_ARGUMENT for a negative or non-finite learning rate or out-of-range
// hyper-parameters (momentum < 0, betas outside [0, 1), epsilon <= 0, ...).
absl::Status ValidateOptimizer(const OptimizerSpec& optimizer);

// Variables of at least twice this many elements (8 MB of float32) are
// updated on several threads; below it, starting one costs more than the
// update it takes over.
inline constexpr int64_t kMinOptimizerElementsPerThread = int64_t{1} << 20;

// One step of `optimizer` on `var` with gradient `grad`. `slots` holds one
// array per SlotsFor(optimizer) entry, in that order. `step` counts this
// variable's steps with this optimizer, from 1 (Adam's bias correction); the
// store derives it from the slots' version, so it survives restarts.
template <typename T>
void ApplyOptimizer(const OptimizerSpec& optimizer, int64_t step, int64_t n,
                    const T* grad, T* var, const std::vector<T*>& slots);

// The same with the gradient's bytes (n = grad.size() / sizeof(T)), which
// need not be aligned for T: they are read in place when they are, a few KB
// at a time through an aligned copy when not.
template <typename T>
void ApplyOptimizer(const OptimizerSpec& optimizer, int64_t step,
                    absl::string_view grad, T* var,
                    const std::vector<T*>& slots);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_OPTIMIZER_H_
