#ifndef PARAM_SERVER_SERVER_BAGS_H_
#define PARAM_SERVER_SERVER_BAGS_H_

// tf.nn.embedding_lookup_sparse's pooling and its gradient, on float32 rows:
// pure functions over a table's memory, no locks.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/bag_check.h"
#include "common/update_spec.h"

namespace paramserver {

// Each bag's pooled row into `out` (bags.offsets.size() rows of `width`
// floats): sum_k weight_k * table[ids[k]] over the bag's ids, in order,
// then divided as the combiner says. An empty bag's row is zeros (as
// segment_mean and safe_embedding_lookup_sparse give). `bags` was checked.
void PoolRows(const BagSpec& bags, absl::Span<const int64_t> ids,
              const float* table, int64_t width, float* out);

// The gradient of PoolRows with respect to each id's row: bag_rows[b] *
// weight_k / divisor_b for id k of bag b, in the ids' order (ids.size()
// rows of `width` floats), as TensorFlow's gradient of
// embedding_lookup_sparse reaches the table. `bags` was checked against
// `num_ids` and bag_rows holds one row per bag.
std::string SpreadBagGradient(const BagSpec& bags, size_t num_ids,
                              absl::string_view bag_rows, int64_t width);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_BAGS_H_
