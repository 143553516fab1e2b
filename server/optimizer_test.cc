// The optimizers on variables large enough to be updated on several threads
// give exactly what they give one window at a time on one thread: every
// element, and its slots, updated once.
#include "server/optimizer.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
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

// Every optimizer: Momentum with and without Nesterov, FTRL plain and with
// every regularisation and a power other than -0.5 (pow() for sqrt()).
std::vector<OptimizerSpec> AllOptimizers() {
  OptimizerSpec momentum;
  momentum.kind = OptimizerKind::kMomentum;
  OptimizerSpec nesterov = momentum;
  nesterov.use_nesterov = true;
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  OptimizerSpec lazy_adam;
  lazy_adam.kind = OptimizerKind::kLazyAdam;
  OptimizerSpec ftrl;
  ftrl.kind = OptimizerKind::kFtrl;
  OptimizerSpec regularized_ftrl = ftrl;
  regularized_ftrl.l1_regularization_strength = 0.001;
  regularized_ftrl.l2_regularization_strength = 0.5;
  regularized_ftrl.l2_shrinkage_regularization_strength = 0.1;
  regularized_ftrl.learning_rate_power = -0.7;
  return {OptimizerSpec(), momentum, nesterov,        adagrad, adam,
          lazy_adam,       ftrl,     regularized_ftrl};
}

TEST(OptimizerTest, LargeVariablesOnSeveralThreadsMatchOneWindowAtATime) {
  // Three threads' worth, and an odd tail.
  const int64_t n = 3 * kMinOptimizerElementsPerThread + 5;
  absl::BitGen gen;
  std::vector<float> grad(n);
  for (float& g : grad) g = absl::Uniform(gen, -1.0f, 1.0f);
  for (const OptimizerSpec& optimizer : AllOptimizers()) {
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

// TensorFlow's update formulas, one element at a time, in the order of
// operations optimizer.cc uses.
void ReferenceStep(const OptimizerSpec& o, int64_t step, int64_t n,
                   const float* grad, float* var, std::vector<float*> slots) {
  const float lr = static_cast<float>(o.learning_rate);
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    switch (o.kind) {
      case OptimizerKind::kSgd:
        var[i] -= lr * g;
        break;
      case OptimizerKind::kMomentum: {
        const float momentum = static_cast<float>(o.momentum);
        float& accum = slots[0][i];
        accum = accum * momentum + g;
        var[i] -= o.use_nesterov ? g * lr + accum * momentum * lr : lr * accum;
        break;
      }
      case OptimizerKind::kAdagrad: {
        float& accum = slots[0][i];
        accum += g * g;
        var[i] -= lr * g / std::sqrt(accum);
        break;
      }
      case OptimizerKind::kAdam:
      case OptimizerKind::kLazyAdam: {
        const double t = static_cast<double>(step);
        const float lr_t = static_cast<float>(
            o.learning_rate * std::sqrt(1 - std::pow(o.beta2, t)) /
            (1 - std::pow(o.beta1, t)));
        const float beta1 = static_cast<float>(o.beta1);
        const float beta2 = static_cast<float>(o.beta2);
        float& m = slots[0][i];
        float& v = slots[1][i];
        m += (g - m) * (1 - beta1);
        v += (g * g - v) * (1 - beta2);
        var[i] -= lr_t * m / (std::sqrt(v) + static_cast<float>(o.epsilon));
        break;
      }
      case OptimizerKind::kFtrl: {
        float& accum = slots[0][i];
        float& linear = slots[1][i];
        const float l1 = static_cast<float>(o.l1_regularization_strength);
        const float l2 = static_cast<float>(o.l2_regularization_strength);
        const float shrinkage =
            static_cast<float>(o.l2_shrinkage_regularization_strength);
        const float power = static_cast<float>(o.learning_rate_power);
        const float shrunk = shrinkage > 0 ? g + 2.0f * shrinkage * var[i] : g;
        const float new_accum = accum + g * g;
        const bool root = power == -0.5f;
        const float new_term =
            root ? std::sqrt(new_accum) : std::pow(new_accum, -power);
        const float old_term =
            root ? std::sqrt(accum) : std::pow(accum, -power);
        linear += shrunk - (new_term - old_term) / lr * var[i];
        const float quadratic = new_term / lr + 2.0f * l2;
        const float sign = linear > 0 ? 1.0f : -1.0f;
        var[i] =
            std::abs(linear) > l1 ? (sign * l1 - linear) / quadratic : 0.0f;
        accum = new_accum;
        break;
      }
    }
  }
}

// The update loops are compiled to SIMD code and the gradient's bytes may be
// unaligned; neither may change a single bit.
TEST(OptimizerTest, UnalignedGradientsAndSimdGiveExactlyTheScalarFormulas) {
  const int64_t n = 1037;  // Vector bodies and a scalar tail.
  absl::BitGen gen;
  std::vector<float> grad(n);
  for (float& g : grad) g = absl::Uniform(gen, -1.0f, 1.0f);
  // The gradient's bytes at an odd address.
  std::string received(n * sizeof(float) + 1, '\0');
  std::memcpy(received.data() + 1, grad.data(), n * sizeof(float));
  const absl::string_view bytes = absl::string_view(received).substr(1);
  for (const OptimizerSpec& optimizer : AllOptimizers()) {
    State ours, reference;
    ours.var.resize(n);
    for (float& v : ours.var) v = absl::Uniform(gen, -1.0f, 1.0f);
    for (const SlotSpec& slot : SlotsFor(optimizer)) {
      ours.slots.emplace_back(n, static_cast<float>(slot.initial_value));
    }
    reference = ours;
    for (int64_t step = 1; step <= 3; ++step) {
      ApplyOptimizer<float>(optimizer, step, bytes, ours.var.data(),
                            ours.SlotPointers(0));
      ReferenceStep(optimizer, step, n, grad.data(), reference.var.data(),
                    reference.SlotPointers(0));
    }
    const int kind = static_cast<int>(optimizer.kind);
    ASSERT_EQ(
        std::memcmp(ours.var.data(), reference.var.data(), n * sizeof(float)),
        0)
        << "optimizer " << kind;
    ASSERT_EQ(ours.slots, reference.slots) << "optimizer " << kind;
  }
}

// FTRL's and LazyAdam's settings are checked as TensorFlow checks them; a
// bad one names itself and the rule.
TEST(OptimizerTest, FtrlAndLazyAdamSettingsAreChecked) {
  OptimizerSpec ftrl;
  ftrl.kind = OptimizerKind::kFtrl;
  EXPECT_TRUE(ValidateOptimizer(ftrl).ok());
  ftrl.initial_accumulator_value = 0;  // Zero is allowed for FTRL.
  EXPECT_TRUE(ValidateOptimizer(ftrl).ok());
  const auto message = [](const OptimizerSpec& o) {
    absl::Status status = ValidateOptimizer(o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  OptimizerSpec bad = ftrl;
  bad.learning_rate_power = 0.5;
  EXPECT_EQ(message(bad),
            "Invalid optimizer learning_rate_power: 0.5 (needs to be negative "
            "or zero).");
  bad = ftrl;
  bad.l1_regularization_strength = -1;
  EXPECT_EQ(message(bad),
            "Invalid optimizer l1_regularization_strength: -1 (needs to be "
            "positive or zero).");
  bad = ftrl;
  bad.l2_shrinkage_regularization_strength = NAN;
  EXPECT_NE(message(bad).find("l2_shrinkage_regularization_strength"),
            std::string::npos);
  bad = ftrl;
  bad.initial_accumulator_value = -0.1;
  EXPECT_NE(message(bad).find("initial_accumulator_value"), std::string::npos);
  bad = ftrl;
  bad.learning_rate = 0;  // FTRL divides by it.
  EXPECT_NE(message(bad).find("learning_rate"), std::string::npos);

  OptimizerSpec lazy_adam;
  lazy_adam.kind = OptimizerKind::kLazyAdam;
  EXPECT_TRUE(ValidateOptimizer(lazy_adam).ok());
  lazy_adam.beta1 = 1;
  EXPECT_EQ(message(lazy_adam), "Invalid optimizer beta1: 1.");
}

}  // namespace
}  // namespace paramserver
