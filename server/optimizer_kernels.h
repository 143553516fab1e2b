#ifndef PARAM_SERVER_SERVER_OPTIMIZER_KERNELS_H_
#define PARAM_SERVER_SERVER_OPTIMIZER_KERNELS_H_

// The elementwise update loops of TensorFlow 1.x's optimizers
// (training_ops.cc), shared by dense steps (optimizer.cc) and sparse ones
// (sparse_optimizer.cc, one row at a time). Internal to //server:optimizer.
//
// The loops are elementwise over arrays that never overlap (__restrict says
// so), so the compiler turns them into SIMD code: the files that include this
// are built with -O3 (server/BUILD). Each lane computes exactly what the
// scalar loop would, so results do not change.

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/update_spec.h"

namespace paramserver {
namespace optimizer_kernels {

// var -= lr * grad.
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

// Adam's step size at `step` (from 1): lr * sqrt(1 - beta2^t) / (1 - beta1^t).
template <typename T>
T AdamStepSize(const OptimizerSpec& o, int64_t step) {
  const double t = static_cast<double>(step);
  return static_cast<T>(o.learning_rate * std::sqrt(1 - std::pow(o.beta2, t)) /
                        (1 - std::pow(o.beta1, t)));
}

// m and v are the moving averages of the gradient and its square;
// var -= lr_t * m / (sqrt(v) + epsilon).
template <typename T>
void Adam(const OptimizerSpec& o, int64_t step, int64_t n,
          const T* __restrict grad, T* __restrict var, T* __restrict m,
          T* __restrict v) {
  const T lr_t = AdamStepSize<T>(o, step);
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  const T epsilon = static_cast<T>(o.epsilon);
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (grad[i] - m[i]) * (1 - beta1);
    v[i] += (grad[i] * grad[i] - v[i]) * (1 - beta2);
    var[i] -= lr_t * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

// One FTRL loop; kSquareRoot and kShrink pick the loop at compile time so
// that the common one (power -0.5, no shrinkage) has no pow() call and
// compiles to SIMD code.
template <typename T, bool kSquareRoot, bool kShrink>
void FtrlLoop(T lr, T l1, T two_l2, T two_shrinkage, T power, int64_t n,
              const T* __restrict grad, T* __restrict var, T* __restrict accum,
              T* __restrict linear) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i];
    const T shrunk = kShrink ? g + two_shrinkage * var[i] : g;
    const T new_accum = accum[i] + g * g;
    const T new_root =
        kSquareRoot ? std::sqrt(new_accum) : std::pow(new_accum, power);
    const T old_root =
        kSquareRoot ? std::sqrt(accum[i]) : std::pow(accum[i], power);
    const T l = linear[i] + (shrunk - (new_root - old_root) / lr * var[i]);
    const T quadratic = new_root / lr + two_l2;
    // Where |l| > l1 >= 0, l is nonzero and sign(l) * l1 is copysign(l1, l).
    // Computed everywhere and selected, so the loop has no branch.
    const T proximal = (std::copysign(l1, l) - l) / quadratic;
    var[i] = std::abs(l) > l1 ? proximal : static_cast<T>(0);
    linear[i] = l;
    accum[i] = new_accum;
  }
}

// FTRL-Proximal as TensorFlow's ApplyFtrl, and ApplyFtrlV2 when l2 shrinkage
// is on (which shrinks only what goes into `linear`):
//   g' = grad + 2 * l2_shrinkage * var
//   new_accum = accum + grad^2
//   linear += g' - (new_accum^-p - accum^-p) / lr * var   (p: lr power)
//   quadratic = new_accum^-p / lr + 2 * l2
//   var = |linear| > l1 ? (sign(linear) * l1 - linear) / quadratic : 0
//   accum = new_accum
// With p = -0.5 (the default) the powers are square roots, as in TensorFlow.
template <typename T>
void Ftrl(const OptimizerSpec& o, int64_t n, const T* grad, T* var, T* accum,
          T* linear) {
  const T lr = static_cast<T>(o.learning_rate);
  const T l1 = static_cast<T>(o.l1_regularization_strength);
  const T two_l2 =
      static_cast<T>(2) * static_cast<T>(o.l2_regularization_strength);
  const T two_shrinkage =
      static_cast<T>(2) *
      static_cast<T>(o.l2_shrinkage_regularization_strength);
  const T power = static_cast<T>(-o.learning_rate_power);
  const bool square_root = o.learning_rate_power == -0.5;
  const bool shrink = o.l2_shrinkage_regularization_strength > 0;
  const auto loop =
      square_root
          ? (shrink ? FtrlLoop<T, true, true> : FtrlLoop<T, true, false>)
          : (shrink ? FtrlLoop<T, false, true> : FtrlLoop<T, false, false>);
  loop(lr, l1, two_l2, two_shrinkage, power, n, grad, var, accum, linear);
}

// Elements [first, last) of one dense step; grad[0] is element first's
// gradient. LazyAdam differs from Adam only on sparse gradients.
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
    case OptimizerKind::kLazyAdam:
      return Adam(optimizer, step, n, grad, var, slots[0] + first,
                  slots[1] + first);
    case OptimizerKind::kFtrl:
      return Ftrl(optimizer, n, grad, var, slots[0] + first, slots[1] + first);
  }
}

}  // namespace optimizer_kernels
}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_OPTIMIZER_KERNELS_H_
