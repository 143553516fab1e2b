#include "server/optimizer.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/aligned_runs.h"
#include "common/parallel_for.h"
#include "server/optimizer_kernels.h"

namespace paramserver {
namespace {

using optimizer_kernels::ApplyRange;

absl::Status Invalid(absl::string_view what, double value,
                     absl::string_view requirement = "") {
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid optimizer ", what, ": ", value, requirement.empty() ? "" : " (",
      requirement, requirement.empty() ? "" : ")", "."));
}

absl::Status ValidateAdam(const OptimizerSpec& o) {
  if (!(o.beta1 >= 0 && o.beta1 < 1)) return Invalid("beta1", o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) return Invalid("beta2", o.beta2);
  if (!(o.epsilon > 0) || !std::isfinite(o.epsilon)) {
    return Invalid("epsilon", o.epsilon);
  }
  return absl::OkStatus();
}

// TensorFlow's FtrlOptimizer and ApplyFtrl checks.
absl::Status ValidateFtrl(const OptimizerSpec& o) {
  if (!(o.learning_rate > 0)) {
    return Invalid("learning_rate", o.learning_rate, "FTRL needs it positive");
  }
  if (!std::isfinite(o.learning_rate_power) || o.learning_rate_power > 0) {
    return Invalid("learning_rate_power", o.learning_rate_power,
                   "needs to be negative or zero");
  }
  if (!std::isfinite(o.initial_accumulator_value) ||
      o.initial_accumulator_value < 0) {
    return Invalid("initial_accumulator_value", o.initial_accumulator_value,
                   "needs to be positive or zero");
  }
  const std::pair<const char*, double> strengths[] = {
      {"l1_regularization_strength", o.l1_regularization_strength},
      {"l2_regularization_strength", o.l2_regularization_strength},
      {"l2_shrinkage_regularization_strength",
       o.l2_shrinkage_regularization_strength}};
  for (const auto& [name, value] : strengths) {
    if (!std::isfinite(value) || value < 0) {
      return Invalid(name, value, "needs to be positive or zero");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<SlotSpec> SlotsFor(const OptimizerSpec& optimizer) {
  switch (optimizer.kind) {
    case OptimizerKind::kSgd:
      return {};
    case OptimizerKind::kMomentum:
      return {{kMomentumSlot, 0.0}};
    case OptimizerKind::kAdagrad:
      return {{kAdagradSlot, optimizer.initial_accumulator_value}};
    case OptimizerKind::kAdam:
    case OptimizerKind::kLazyAdam:
      return {{kAdamMSlot, 0.0}, {kAdamVSlot, 0.0}};
    case OptimizerKind::kFtrl:
      return {{kFtrlAccumulatorSlot, optimizer.initial_accumulator_value},
              {kFtrlLinearSlot, 0.0}};
  }
  return {};
}

absl::Status ValidateOptimizer(const OptimizerSpec& o) {
  if (!std::isfinite(o.learning_rate) || o.learning_rate < 0) {
    return Invalid("learning_rate", o.learning_rate);
  }
  switch (o.kind) {
    case OptimizerKind::kSgd:
      return absl::OkStatus();
    case OptimizerKind::kMomentum:
      if (!std::isfinite(o.momentum) || o.momentum < 0) {
        return Invalid("momentum", o.momentum);
      }
      return absl::OkStatus();
    case OptimizerKind::kAdagrad:
      if (!std::isfinite(o.initial_accumulator_value) ||
          o.initial_accumulator_value <= 0) {
        return Invalid("initial_accumulator_value",
                       o.initial_accumulator_value);
      }
      return absl::OkStatus();
    case OptimizerKind::kAdam:
    case OptimizerKind::kLazyAdam:
      return ValidateAdam(o);
    case OptimizerKind::kFtrl:
      return ValidateFtrl(o);
  }
  return absl::InvalidArgumentError("Unknown optimizer.");
}

template <typename T>
void ApplyOptimizer(const OptimizerSpec& optimizer, int64_t step,
                    absl::string_view grad, T* var,
                    const std::vector<T*>& slots) {
  // Every element's update depends on that element alone, so the result is
  // the same on any number of threads and however the runs cut it.
  const int64_t n = static_cast<int64_t>(grad.size() / sizeof(T));
  ParallelFor(
      n, kMinOptimizerElementsPerThread, [&](int64_t first, int64_t last) {
        ForEachAlignedRun<T>(
            grad, first, last, [&](int64_t at, int64_t count, const T* run) {
              ApplyRange(optimizer, step, at, at + count, run, var, slots);
            });
      });
}

template <typename T>
void ApplyOptimizer(const OptimizerSpec& optimizer, int64_t step, int64_t n,
                    const T* grad, T* var, const std::vector<T*>& slots) {
  ApplyOptimizer(
      optimizer, step,
      absl::string_view(reinterpret_cast<const char*>(grad), n * sizeof(T)),
      var, slots);
}

template void ApplyOptimizer<float>(const OptimizerSpec&, int64_t, int64_t,
                                    const float*, float*,
                                    const std::vector<float*>&);
template void ApplyOptimizer<double>(const OptimizerSpec&, int64_t, int64_t,
                                     const double*, double*,
                                     const std::vector<double*>&);
template void ApplyOptimizer<float>(const OptimizerSpec&, int64_t,
                                    absl::string_view, float*,
                                    const std::vector<float*>&);
template void ApplyOptimizer<double>(const OptimizerSpec&, int64_t,
                                     absl::string_view, double*,
                                     const std::vector<double*>&);

}  // namespace paramserver
