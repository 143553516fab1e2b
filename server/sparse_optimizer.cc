#include "server/sparse_optimizer.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/parallel_for.h"
#include "server/optimizer.h"
#include "server/optimizer_kernels.h"

namespace paramserver {
namespace {

using optimizer_kernels::AdamStepSize;
using optimizer_kernels::ApplyRange;
using optimizer_kernels::Sgd;

// m *= beta1 and v *= beta2: Adam's decay of the moments of every row.
template <typename T>
void DecayMoments(int64_t n, T beta1, T beta2, T* __restrict m,
                  T* __restrict v) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = m[i] * beta1;
    v[i] = v[i] * beta2;
  }
}

// var -= lr_t * m / (sqrt(v) + epsilon) on every row.
template <typename T>
void MoveByMoments(int64_t n, T lr_t, T epsilon, const T* __restrict m,
                   const T* __restrict v, T* __restrict var) {
  for (int64_t i = 0; i < n; ++i) {
    var[i] -= lr_t * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

// TensorFlow 1.x's AdamOptimizer._apply_sparse_shared, `ids` unique: both
// moments of every row decay, the touched rows' moments get the scaled
// gradient added (scatter_add), then every row of var moves.
template <typename T>
void SparseAdam(const OptimizerSpec& o, int64_t step, int64_t n, int64_t width,
                absl::Span<const int64_t> ids, const T* grad, T* var, T* m,
                T* v) {
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  ParallelFor(n, kMinOptimizerElementsPerThread,
              [&](int64_t first, int64_t last) {
                DecayMoments(last - first, beta1, beta2, m + first, v + first);
              });
  const T one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2;
  for (size_t i = 0; i < ids.size(); ++i) {
    const T* g = grad + i * width;
    T* m_row = m + ids[i] * width;
    T* v_row = v + ids[i] * width;
    for (int64_t j = 0; j < width; ++j) {
      m_row[j] += g[j] * one_minus_beta1;
      v_row[j] += g[j] * g[j] * one_minus_beta2;
    }
  }
  const T lr_t = AdamStepSize<T>(o, step);
  const T epsilon = static_cast<T>(o.epsilon);
  ParallelFor(n, kMinOptimizerElementsPerThread,
              [&](int64_t first, int64_t last) {
                MoveByMoments(last - first, lr_t, epsilon, m + first, v + first,
                              var + first);
              });
}

}  // namespace

bool HasRepeatedIds(absl::Span<const int64_t> ids) {
  absl::flat_hash_set<int64_t> seen;
  seen.reserve(ids.size());
  for (const int64_t id : ids) {
    if (!seen.insert(id).second) return true;
  }
  return false;
}

template <typename T>
DeduplicatedRows<T> DeduplicateRows(absl::Span<const int64_t> ids,
                                    int64_t width, const T* grad) {
  DeduplicatedRows<T> out;
  absl::flat_hash_map<int64_t, int64_t> place;
  place.reserve(ids.size());
  out.ids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto [it, first_time] = place.try_emplace(ids[i], out.ids.size());
    if (first_time) {
      out.ids.push_back(ids[i]);
      // unsorted_segment_sum starts every sum from zero.
      out.rows.resize(out.rows.size() + width, T{0});
    }
    T* sum = out.rows.data() + it->second * width;
    const T* row = grad + i * width;
    for (int64_t j = 0; j < width; ++j) sum[j] += row[j];
  }
  return out;
}

template <typename T>
void ApplySparseOptimizer(const OptimizerSpec& optimizer, int64_t step,
                          int64_t rows, int64_t width,
                          absl::Span<const int64_t> ids, const T* grad, T* var,
                          const std::vector<T*>& slots) {
  if (optimizer.kind == OptimizerKind::kSgd) {
    // GradientDescentOptimizer scatter_subs lr * row for every id as it
    // comes, repeats included.
    for (size_t i = 0; i < ids.size(); ++i) {
      Sgd(optimizer.learning_rate, width, grad + i * width,
          var + ids[i] * width);
    }
    return;
  }
  DeduplicatedRows<T> summed;
  if (HasRepeatedIds(ids)) {
    summed = DeduplicateRows(ids, width, grad);
    ids = summed.ids;
    grad = summed.rows.data();
  }
  if (optimizer.kind == OptimizerKind::kAdam) {
    return SparseAdam(optimizer, step, rows * width, width, ids, grad, var,
                      slots[0], slots[1]);
  }
  // Momentum, Adagrad, FTRL and LazyAdam: each touched row steps as a dense
  // variable would (LazyAdam's row step is Adam's).
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t first = ids[i] * width;
    ApplyRange(optimizer, step, first, first + width, grad + i * width, var,
               slots);
  }
}

template DeduplicatedRows<float> DeduplicateRows<float>(
    absl::Span<const int64_t>, int64_t, const float*);
template DeduplicatedRows<double> DeduplicateRows<double>(
    absl::Span<const int64_t>, int64_t, const double*);
template void ApplySparseOptimizer<float>(const OptimizerSpec&, int64_t,
                                          int64_t, int64_t,
                                          absl::Span<const int64_t>,
                                          const float*, float*,
                                          const std::vector<float*>&);
template void ApplySparseOptimizer<double>(const OptimizerSpec&, int64_t,
                                           int64_t, int64_t,
                                           absl::Span<const int64_t>,
                                           const double*, double*,
                                           const std::vector<double*>&);

}  // namespace paramserver
