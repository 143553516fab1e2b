#ifndef PARAM_SERVER_COMMON_UPDATE_SPEC_H_
#define PARAM_SERVER_COMMON_UPDATE_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/variable_spec.h"

namespace paramserver {

// Longest push id (PushSpec::push_id, RowUpdateSpec::push_id), in bytes.
inline constexpr size_t kMaxPushIdBytes = 64;

// Numbered as rpc::Optimizer::Kind.
enum class OptimizerKind { kSgd, kMomentum, kAdagrad, kAdam, kFtrl, kLazyAdam };

// TensorFlow 1.x's optimizers with their defaults.
struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::kSgd;
  double learning_rate = 0.01;
  double momentum = 0.9;                              // kMomentum.
  bool use_nesterov = false;                          // kMomentum.
  double initial_accumulator_value = 0.1;             // kAdagrad, kFtrl.
  double beta1 = 0.9;                                 // kAdam, kLazyAdam.
  double beta2 = 0.999;                               // kAdam, kLazyAdam.
  double epsilon = 1e-8;                              // kAdam, kLazyAdam.
  double learning_rate_power = -0.5;                  // kFtrl.
  double l1_regularization_strength = 0.0;            // kFtrl.
  double l2_regularization_strength = 0.0;            // kFtrl.
  double l2_shrinkage_regularization_strength = 0.0;  // kFtrl.
};

enum class UpdateKind { kAssign, kAssignAdd, kApplyGradient };

// One variable's part of a push. `value` is not owned: it points into the
// caller's request and must outlive the Push call.
struct VariableUpdate {
  std::string name;
  UpdateKind kind = UpdateKind::kAssign;
  absl::string_view value;
  std::optional<int64_t> base_version;
};

struct PushSpec {
  std::vector<VariableUpdate> updates;
  OptimizerSpec optimizer;
  int64_t max_staleness = 0;  // 0: unbounded.
  // At most 64 bytes; empty: none. A server that applied a push with this id
  // answers a repeat of it with the first answer instead of applying it
  // again (see PushRequest.push_id). The client makes one when empty.
  std::string push_id;
};

// A sparse push: rows of one variable of rank 1 or more, by id. kAssign is
// tf.scatter_update (a repeated id: its last row wins), kAssignAdd
// tf.scatter_add (repeats add up), kApplyGradient the optimizer's step on a
// sparse gradient (tf.IndexedSlices; see server/sparse_optimizer.h).
// How tf.nn.embedding_lookup assigns the global ids of a variable
// partitioned along its first axis to its parts (p parts of n rows):
// kMod, TF 1.x's default: part id % p, row id / p; kDiv: contiguous, the
// first n % p parts one row longer, as tf.fixed_size_partitioner splits.
enum class PartitionStrategy { kMod, kDiv };

// tf.nn.embedding_lookup_sparse's combiners: the weighted sum of a bag's
// rows, divided by the sum of its weights (kMean, TF 1.x's default) or by
// the square root of the sum of their squares (kSqrtn), or not (kSum).
enum class Combiner { kMean, kSum, kSqrtn };

// Bags of ids, as embedding_lookup_sparse's sp_ids and sp_weights: bag b
// holds ids [offsets[b], offsets[b + 1]) (the last to the end of the ids),
// id k weighted by weights[k] (1 when weights is empty). Offsets start at 0
// and never decrease; a bag may be empty (its row is zeros). Not owned.
struct BagSpec {
  absl::Span<const int64_t> offsets;
  absl::Span<const float> weights;
  Combiner combiner = Combiner::kMean;
};

struct RowUpdateSpec {
  std::string name;
  UpdateKind kind = UpdateKind::kAssign;
  // Not owned; must outlive the PushRows call. rows: ids.size() rows of the
  // variable's row size, in the ids' order.
  absl::Span<const int64_t> ids;
  absl::string_view rows;
  std::optional<int64_t> base_version;
  OptimizerSpec optimizer;    // kApplyGradient.
  int64_t max_staleness = 0;  // As PushSpec's.
  // Only for a partitioned variable (ShardedClient): how ids map to parts.
  PartitionStrategy partition_strategy = PartitionStrategy::kMod;
  // The gradient of a pooled lookup (kApplyGradient only): `rows` holds one
  // row per bag, and each id of bag b receives that row times its weight,
  // divided as the combiner divided (the gradient of LookupSparse).
  std::optional<BagSpec> bags;
  // As PushSpec's: at most 64 bytes; a server that applied a row push with
  // this id answers a repeat with the first answer and applies nothing.
  std::string push_id;
};

struct PullItemSpec {
  std::string name;
  int64_t known_version = 0;  // 0: always return the value.
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_UPDATE_SPEC_H_
