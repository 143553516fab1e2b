#include "server/optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/aligned_runs.h"
#include "common/parallel_for.h"

namespace paramserver {
namespace {

// The update loops below are elementwise over arrays that never overlap
// (__restrict says so), so the compiler turns them into SIMD code: this file
// is built with -O3 (server/BUILD). Each lane computes exactly what the
// scalar loop would, so results do not change.

absl::Status Invalid(absl::string_view what, double value) {
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid optimizer ", what, ": ", value, "."));
}

template <typename T>
void Sgd(double lr, int64_t n, const T* __restrict grad, T* __restrict var) {
  const T rate = static_cast<T>(lr);
  for (int64_t i = 0; i < n; ++i) var[i] -= rate * grad[i];
}

// accum = accum * momentum + grad; var -= lr * accum, or with Nesterov
// var -= lr * grad + lr * momentum * accum.
template <typename T>
void Momentum(const OptimizerSpec& o, int64_t n, const T* __restrict grad,
              T* __restrict var, T* __restrict accum) {
  const T lr = static_cast<T>(o.learning_rate);
  const T momentum = static_cast<T>(o.momentum);
  for (int64_t i = 0; i < n; ++i) {
    accum[i] = accum[i] * momentum + grad[i];
    var[i] -= o.use_nesterov ? grad[i] * lr + accum[i] * momentum * lr
                             : lr * accum[i];
  }
}

// accum += grad^2; var -= lr * grad / sqrt(accum).
template <typename T>
void Adagrad(double lr, int64_t n, const T* __restrict grad, T* __restrict var,
             T* __restrict accum) {
  const T rate = static_cast<T>(lr);
  for (int64_t i = 0; i < n; ++i) {
    accum[i] += grad[i] * grad[i];
    var[i] -= rate * grad[i] / std::sqrt(accum[i]);
  }
}

// lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m and v are the moving
// averages of the gradient and its square; var -= lr_t * m / (sqrt(v) + eps).
template <typename T>
void Adam(const OptimizerSpec& o, int64_t step, int64_t n,
          const T* __restrict grad, T* __restrict var, T* __restrict m,
          T* __restrict v) {
  const double t = static_cast<double>(step);
  const T lr_t =
      static_cast<T>(o.learning_rate * std::sqrt(1 - std::pow(o.beta2, t)) /
                     (1 - std::pow(o.beta1, t)));
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  const T epsilon = static_cast<T>(o.epsilon);
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (grad[i] - m[i]) * (1 - beta1);
    v[i] += (grad[i] * grad[i] - v[i]) * (1 - beta2);
    var[i] -= lr_t * m[i] / (std::sqrt(v[i]) + epsilon);
  }
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
      return {{kAdamMSlot, 0.0}, {kAdamVSlot, 0.0}};
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
      if (!(o.beta1 >= 0 && o.beta1 < 1)) return Invalid("beta1", o.beta1);
      if (!(o.beta2 >= 0 && o.beta2 < 1)) return Invalid("beta2", o.beta2);
      if (!(o.epsilon > 0) || !std::isfinite(o.epsilon)) {
        return Invalid("epsilon", o.epsilon);
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("Unknown optimizer.");
}

namespace {

// Elements [first, last) of one step; grad[0] is element first's gradient.
template <typename T>
void ApplyRange(const OptimizerSpec& optimizer, int64_t step, int64_t first,
                int64_t last, const T* grad, T* var,
                const std::vector<T*>& slots) {
  const int64_t n = last - first;
  var += first;
  switch (optimizer.kind) {
    case OptimizerKind::kSgd:
      return Sgd(optimizer.learning_rate, n, grad, var);
    case OptimizerKind::kMomentum:
      return Momentum(optimizer, n, grad, var, slots[0] + first);
    case OptimizerKind::kAdagrad:
      return Adagrad(optimizer.learning_rate, n, grad, var, slots[0] + first);
    case OptimizerKind::kAdam:
      return Adam(optimizer, step, n, grad, var, slots[0] + first,
                  slots[1] + first);
  }
}

}  // namespace

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
