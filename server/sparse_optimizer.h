#ifndef PARAM_SERVER_SERVER_SPARSE_OPTIMIZER_H_
#define PARAM_SERVER_SERVER_SPARSE_OPTIMIZER_H_

// TensorFlow 1.x's optimizers on sparse gradients (IndexedSlices): a
// variable of shape [rows, ...] seen as `rows` rows of `width` elements, a
// list of row ids and one gradient row per id. Slots are the same arrays as
// for dense steps (SlotsFor in server/optimizer.h), each rows * width long.
//
// As TensorFlow applies them:
// - SGD subtracts lr * row for every id as it comes, repeats included
//   (GradientDescentOptimizer's scatter_sub).
// - Every other optimizer first sums the rows of repeated ids, in the order
//   they came, keeping each id's first place (Optimizer's
//   _deduplicate_indexed_slices), then updates each touched row once with
//   the dense step's per-element formulas: Momentum, Adagrad and FTRL as the
//   SparseApply* kernels do, LazyAdam as tf.contrib.opt.LazyAdamOptimizer.
//   TensorFlow's sparse kernels group some products differently (Nesterov's
//   lr * momentum, Adagrad's rsqrt, LazyAdam's beta1 * m + (1 - beta1) * g),
//   so a result can differ from TensorFlow's in the last bit.
// - Adam decays both moments of EVERY row and moves every row of the
//   variable, touched or not (AdamOptimizer._apply_sparse_shared): a sparse
//   Adam step costs as much as a dense one. LazyAdam is the optimizer for
//   embedding tables.

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "common/update_spec.h"

namespace paramserver {

// The ids of a sparse gradient with repeats summed: `ids` in order of first
// appearance and one row of `width` elements per id in `rows`.
template <typename T>
struct DeduplicatedRows {
  std::vector<int64_t> ids;
  std::vector<T> rows;
};

// Sums the gradient rows of repeated ids, as TensorFlow's
// _deduplicate_indexed_slices (unique + unsorted_segment_sum): each id once,
// in order of first appearance; its row is the sum of its rows, added in the
// order they came. `grad` holds ids.size() * width elements.
template <typename T>
DeduplicatedRows<T> DeduplicateRows(absl::Span<const int64_t> ids,
                                    int64_t width, const T* grad);

// True when some id appears more than once.
bool HasRepeatedIds(absl::Span<const int64_t> ids);

// One step of `optimizer` on the rows `ids` of `var` ([rows, width]) with
// the gradient rows `grad` (ids.size() * width elements), repeats allowed.
// `slots` holds one rows * width array per SlotsFor(optimizer) entry; `step`
// counts this variable's steps from 1 (Adam's and LazyAdam's bias
// correction). Requires every id in [0, rows) and a valid optimizer.
template <typename T>
void ApplySparseOptimizer(const OptimizerSpec& optimizer, int64_t step,
                          int64_t rows, int64_t width,
                          absl::Span<const int64_t> ids, const T* grad, T* var,
                          const std::vector<T*>& slots);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_SPARSE_OPTIMIZER_H_
