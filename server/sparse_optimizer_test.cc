// Sparse steps checked against a straightforward reference of TensorFlow
// 1.x's sparse update formulas, one element at a time: repeated ids, ids
// touched in consecutive steps, untouched rows left alone.
#include "server/sparse_optimizer.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"
#include "server/optimizer.h"

namespace paramserver {
namespace {

constexpr int64_t kRows = 50;
constexpr int64_t kWidth = 7;

struct Table {
  std::vector<float> var;
  std::vector<std::vector<float>> slots;

  Table(const OptimizerSpec& optimizer, absl::BitGen& gen)
      : var(kRows * kWidth) {
    for (float& v : var) v = absl::Uniform(gen, -1.0f, 1.0f);
    for (const SlotSpec& slot : SlotsFor(optimizer)) {
      slots.emplace_back(kRows * kWidth,
                         static_cast<float>(slot.initial_value));
    }
  }
  std::vector<float*> SlotPointers() {
    std::vector<float*> pointers;
    for (std::vector<float>& slot : slots) pointers.push_back(slot.data());
    return pointers;
  }
  bool RowEquals(const Table& other, int64_t row) const {
    const size_t bytes = kWidth * sizeof(float);
    if (std::memcmp(&var[row * kWidth], &other.var[row * kWidth], bytes)) {
      return false;
    }
    for (size_t s = 0; s < slots.size(); ++s) {
      if (std::memcmp(&slots[s][row * kWidth], &other.slots[s][row * kWidth],
                      bytes)) {
        return false;
      }
    }
    return true;
  }
};

// TensorFlow's _deduplicate_indexed_slices, the slow way.
void ReferenceDeduplicate(const std::vector<int64_t>& ids,
                          const std::vector<float>& grad,
                          std::vector<int64_t>* unique_ids,
                          std::vector<float>* sums) {
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t at = 0;
    while (at < unique_ids->size() && (*unique_ids)[at] != ids[i]) ++at;
    if (at == unique_ids->size()) {
      unique_ids->push_back(ids[i]);
      sums->resize(sums->size() + kWidth, 0.0f);
    }
    for (int64_t j = 0; j < kWidth; ++j) {
      (*sums)[at * kWidth + j] += grad[i * kWidth + j];
    }
  }
}

// One element of a touched row (Momentum, Adagrad, FTRL, LazyAdam): the
// formulas of training_ops.cc's dense kernels, which sparse rows use too
// (TensorFlow's sparse kernels group a few products differently; see
// sparse_optimizer.h).
void ReferenceElement(const OptimizerSpec& o, int64_t step, float g, float& var,
                      std::vector<float*> slot) {
  const float lr = static_cast<float>(o.learning_rate);
  switch (o.kind) {
    case OptimizerKind::kMomentum: {
      const float momentum = static_cast<float>(o.momentum);
      float& accum = *slot[0];
      accum = accum * momentum + g;
      var -= o.use_nesterov ? g * lr + accum * momentum * lr : lr * accum;
      return;
    }
    case OptimizerKind::kAdagrad: {
      float& accum = *slot[0];
      accum += g * g;
      var -= lr * g / std::sqrt(accum);
      return;
    }
    case OptimizerKind::kLazyAdam: {
      const double t = static_cast<double>(step);
      const float lr_t = static_cast<float>(
          o.learning_rate * std::sqrt(1 - std::pow(o.beta2, t)) /
          (1 - std::pow(o.beta1, t)));
      const float beta1 = static_cast<float>(o.beta1);
      const float beta2 = static_cast<float>(o.beta2);
      float& m = *slot[0];
      float& v = *slot[1];
      m += (g - m) * (1 - beta1);
      v += (g * g - v) * (1 - beta2);
      var -= lr_t * m / (std::sqrt(v) + static_cast<float>(o.epsilon));
      return;
    }
    case OptimizerKind::kFtrl: {
      float& accum = *slot[0];
      float& linear = *slot[1];
      const float l1 = static_cast<float>(o.l1_regularization_strength);
      const float l2 = static_cast<float>(o.l2_regularization_strength);
      const float shrinkage =
          static_cast<float>(o.l2_shrinkage_regularization_strength);
      const float power = static_cast<float>(o.learning_rate_power);
      const float shrunk = shrinkage > 0 ? g + 2.0f * shrinkage * var : g;
      const float new_accum = accum + g * g;
      const bool root = power == -0.5f;
      const float new_term =
          root ? std::sqrt(new_accum) : std::pow(new_accum, -power);
      const float old_term = root ? std::sqrt(accum) : std::pow(accum, -power);
      linear += shrunk - (new_term - old_term) / lr * var;
      const float quadratic = new_term / lr + 2.0f * l2;
      const float sign = linear > 0 ? 1.0f : (linear < 0 ? -1.0f : 0.0f);
      var = std::abs(linear) > l1 ? (sign * l1 - linear) / quadratic : 0.0f;
      accum = new_accum;
      return;
    }
    default:
      FAIL() << "not a row optimizer";
  }
}

void ReferenceStep(const OptimizerSpec& o, int64_t step,
                   const std::vector<int64_t>& ids,
                   const std::vector<float>& grad, Table& table) {
  const float lr = static_cast<float>(o.learning_rate);
  if (o.kind == OptimizerKind::kSgd) {  // scatter_sub, each occurrence.
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int64_t j = 0; j < kWidth; ++j) {
        table.var[ids[i] * kWidth + j] -= lr * grad[i * kWidth + j];
      }
    }
    return;
  }
  std::vector<int64_t> unique_ids;
  std::vector<float> sums;
  ReferenceDeduplicate(ids, grad, &unique_ids, &sums);
  if (o.kind == OptimizerKind::kAdam) {  // AdamOptimizer._apply_sparse_shared
    const double t = static_cast<double>(step);
    const float lr_t = static_cast<float>(o.learning_rate *
                                          std::sqrt(1 - std::pow(o.beta2, t)) /
                                          (1 - std::pow(o.beta1, t)));
    const float beta1 = static_cast<float>(o.beta1);
    const float beta2 = static_cast<float>(o.beta2);
    std::vector<float>& m = table.slots[0];
    std::vector<float>& v = table.slots[1];
    for (float& x : m) x = x * beta1;
    for (float& x : v) x = x * beta2;
    for (size_t i = 0; i < unique_ids.size(); ++i) {
      for (int64_t j = 0; j < kWidth; ++j) {
        const float g = sums[i * kWidth + j];
        m[unique_ids[i] * kWidth + j] += g * (1 - beta1);
        v[unique_ids[i] * kWidth + j] += g * g * (1 - beta2);
      }
    }
    for (size_t k = 0; k < table.var.size(); ++k) {
      table.var[k] -=
          lr_t * m[k] / (std::sqrt(v[k]) + static_cast<float>(o.epsilon));
    }
    return;
  }
  for (size_t i = 0; i < unique_ids.size(); ++i) {
    for (int64_t j = 0; j < kWidth; ++j) {
      const int64_t k = unique_ids[i] * kWidth + j;
      std::vector<float*> slot;
      for (std::vector<float>& s : table.slots) slot.push_back(&s[k]);
      ReferenceElement(o, step, sums[i * kWidth + j], table.var[k], slot);
    }
  }
}

std::vector<OptimizerSpec> AllOptimizers() {
  std::vector<OptimizerSpec> all(1);  // SGD.
  OptimizerSpec spec;
  spec.kind = OptimizerKind::kMomentum;
  all.push_back(spec);
  spec.use_nesterov = true;
  all.push_back(spec);
  for (const OptimizerKind kind :
       {OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kLazyAdam,
        OptimizerKind::kFtrl}) {
    spec = OptimizerSpec();
    spec.kind = kind;
    all.push_back(spec);
  }
  // FTRL with every regularisation on and a learning-rate power other than
  // -0.5, which takes pow() instead of sqrt().
  spec.l1_regularization_strength = 0.001;
  spec.l2_regularization_strength = 0.5;
  spec.l2_shrinkage_regularization_strength = 0.1;
  spec.learning_rate_power = -0.7;
  all.push_back(spec);
  return all;
}

std::string Describe(const OptimizerSpec& o) {
  return "optimizer " + std::to_string(static_cast<int>(o.kind)) +
         (o.use_nesterov ? " nesterov" : "") +
         (o.learning_rate_power != -0.5 ? " lr_power" : "");
}

TEST(SparseOptimizerTest, RepeatsAreSummedInOrderOfFirstAppearance) {
  const std::vector<int64_t> ids = {5, 2, 5, 9, 2, 5};
  const std::vector<float> grad = {1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60};
  const DeduplicatedRows<float> summed =
      DeduplicateRows<float>(ids, 2, grad.data());
  EXPECT_EQ(summed.ids, (std::vector<int64_t>{5, 2, 9}));
  EXPECT_EQ(summed.rows, (std::vector<float>{10, 100, 7, 70, 4, 40}));
  EXPECT_TRUE(HasRepeatedIds(ids));
  EXPECT_FALSE(HasRepeatedIds(summed.ids));
  EXPECT_FALSE(HasRepeatedIds({}));
}

TEST(SparseOptimizerTest, StepsMatchTensorFlowsFormulasAndLeaveOtherRowsAlone) {
  absl::BitGen gen;
  for (OptimizerSpec optimizer : AllOptimizers()) {
    optimizer.learning_rate = 0.1;
    SCOPED_TRACE(Describe(optimizer));
    ASSERT_TRUE(ValidateOptimizer(optimizer).ok());
    Table ours(optimizer, gen);
    Table reference = ours;
    const Table before = ours;
    std::vector<bool> touched(kRows, false);
    for (int64_t step = 1; step <= 4; ++step) {
      // Ids from the first half of the table, so repeats are common and
      // rows are touched in consecutive steps; the second half never is.
      std::vector<int64_t> ids(20);
      for (int64_t& id : ids) {
        id = absl::Uniform<int64_t>(gen, 0, kRows / 2);
        touched[id] = true;
      }
      std::vector<float> grad(ids.size() * kWidth);
      for (float& g : grad) g = absl::Uniform(gen, -1.0f, 1.0f);
      ApplySparseOptimizer<float>(optimizer, step, kRows, kWidth, ids,
                                  grad.data(), ours.var.data(),
                                  ours.SlotPointers());
      ReferenceStep(optimizer, step, ids, grad, reference);
    }
    ASSERT_EQ(std::memcmp(ours.var.data(), reference.var.data(),
                          ours.var.size() * sizeof(float)),
              0);
    ASSERT_EQ(ours.slots, reference.slots);
    for (int64_t row = 0; row < kRows; ++row) {
      EXPECT_EQ(ours.RowEquals(before, row), !touched[row]) << "row " << row;
    }
    // One more step touching row 0 alone. TF 1.x's sparse Adam decays the
    // moments of every row, so rows touched before move again; every other
    // optimizer leaves them as they are.
    const Table last = ours;
    const std::vector<float> grad(kWidth, 0.5f);
    ApplySparseOptimizer<float>(optimizer, 5, kRows, kWidth, {0}, grad.data(),
                                ours.var.data(), ours.SlotPointers());
    EXPECT_FALSE(ours.RowEquals(last, 0));
    for (int64_t row = 1; row < kRows; ++row) {
      const bool moves = touched[row] && optimizer.kind == OptimizerKind::kAdam;
      EXPECT_EQ(ours.RowEquals(last, row), !moves) << "row " << row;
    }
  }
}

// A step touching every row once, in order, is the dense step (Adam aside,
// which TensorFlow computes in another order on sparse gradients).
TEST(SparseOptimizerTest, TouchingEveryRowOnceIsTheDenseStep) {
  absl::BitGen gen;
  std::vector<int64_t> ids(kRows);
  for (int64_t i = 0; i < kRows; ++i) ids[i] = i;
  for (const OptimizerSpec& optimizer : AllOptimizers()) {
    if (optimizer.kind == OptimizerKind::kAdam) continue;
    SCOPED_TRACE(Describe(optimizer));
    Table sparse(optimizer, gen);
    Table dense = sparse;
    for (int64_t step = 1; step <= 2; ++step) {
      std::vector<float> grad(kRows * kWidth);
      for (float& g : grad) g = absl::Uniform(gen, -1.0f, 1.0f);
      ApplySparseOptimizer<float>(optimizer, step, kRows, kWidth, ids,
                                  grad.data(), sparse.var.data(),
                                  sparse.SlotPointers());
      ApplyOptimizer<float>(optimizer, step, kRows * kWidth, grad.data(),
                            dense.var.data(), dense.SlotPointers());
    }
    EXPECT_EQ(sparse.var, dense.var);
    EXPECT_EQ(sparse.slots, dense.slots);
  }
}

// TensorFlow's own FTRL tests (ftrl_test.py): learning rate 3, initial
// accumulator 0.1, gradients [0.1, 0.2] and [0.01, 0.02] each step, and the
// values TensorFlow gives, to its float32 tolerance.
TEST(SparseOptimizerTest, FtrlGivesTensorFlowsPublishedResults) {
  struct Case {
    const char* name;
    float init0[2], init1[2];
    double l1, l2, shrinkage;
    int steps;
    float want0[2], want1[2];
  };
  const Case cases[] = {
      {"without regularization",
       {0, 0},
       {0, 0},
       0,
       0,
       0,
       3,
       {-2.60260963f, -4.29698515f},
       {-0.28432083f, -0.56694895f}},
      {"without regularization 2",
       {1, 2},
       {4, 3},
       0,
       0,
       0,
       3,
       {-2.55607247f, -3.98729396f},
       {-0.28232238f, -0.56096673f}},
      {"l1",
       {1, 2},
       {4, 3},
       0.001,
       0,
       0,
       10,
       {-7.66718769f, -10.91273689f},
       {-0.93460727f, -1.86147261f}},
      {"l1 l2",
       {1, 2},
       {4, 3},
       0.001,
       2.0,
       0,
       10,
       {-0.24059935f, -0.46829352f},
       {-0.02406147f, -0.04830509f}},
      {"l1 l2 shrinkage",
       {1, 2},
       {4, 3},
       0.001,
       2.0,
       0.1,
       10,
       {-0.22578995f, -0.44345796f},
       {-0.14378493f, -0.13229476f}},
  };
  const auto close = [](float got, float want) {
    return std::abs(got - want) <= 1e-6 + 1e-6 * std::abs(want);
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    OptimizerSpec ftrl;
    ftrl.kind = OptimizerKind::kFtrl;
    ftrl.learning_rate = 3.0;
    ftrl.l1_regularization_strength = c.l1;
    ftrl.l2_regularization_strength = c.l2;
    ftrl.l2_shrinkage_regularization_strength = c.shrinkage;
    ASSERT_TRUE(ValidateOptimizer(ftrl).ok());
    const float grad0[2] = {0.1f, 0.2f}, grad1[2] = {0.01f, 0.02f};
    std::vector<float> var0(c.init0, c.init0 + 2), var1(c.init1, c.init1 + 2);
    std::vector<float> slots0[2] = {{0.1f, 0.1f}, {0, 0}};
    std::vector<float> slots1[2] = {{0.1f, 0.1f}, {0, 0}};
    for (int step = 1; step <= c.steps; ++step) {
      ApplyOptimizer<float>(ftrl, step, 2, grad0, var0.data(),
                            {slots0[0].data(), slots0[1].data()});
      ApplyOptimizer<float>(ftrl, step, 2, grad1, var1.data(),
                            {slots1[0].data(), slots1[1].data()});
    }
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(close(var0[i], c.want0[i])) << var0[i] << " " << c.want0[i];
      EXPECT_TRUE(close(var1[i], c.want1[i])) << var1[i] << " " << c.want1[i];
    }
  }
  // The sparse form of the last case (testFtrlWithL1_L2_L2ShrinkageSparse):
  // [2, 1] variables, one row each touched; the other rows stay as they were.
  OptimizerSpec ftrl;
  ftrl.kind = OptimizerKind::kFtrl;
  ftrl.learning_rate = 3.0;
  ftrl.l1_regularization_strength = 0.001;
  ftrl.l2_regularization_strength = 2.0;
  ftrl.l2_shrinkage_regularization_strength = 0.1;
  std::vector<float> var0 = {1, 2}, var1 = {4, 3};
  std::vector<float> slots0[2] = {{0.1f, 0.1f}, {0, 0}};
  std::vector<float> slots1[2] = {{0.1f, 0.1f}, {0, 0}};
  const float grad0 = 0.1f, grad1 = 0.02f;
  const std::vector<int64_t> row0 = {0}, row1 = {1};
  for (int step = 1; step <= 10; ++step) {
    ApplySparseOptimizer<float>(ftrl, step, 2, 1, row0, &grad0, var0.data(),
                                {slots0[0].data(), slots0[1].data()});
    ApplySparseOptimizer<float>(ftrl, step, 2, 1, row1, &grad1, var1.data(),
                                {slots1[0].data(), slots1[1].data()});
  }
  EXPECT_TRUE(close(var0[0], -0.22578995f)) << var0[0];
  EXPECT_EQ(var0[1], 2.0f);
  EXPECT_EQ(var1[0], 4.0f);
  EXPECT_TRUE(close(var1[1], -0.13229476f)) << var1[1];
}

}  // namespace
}  // namespace paramserver
