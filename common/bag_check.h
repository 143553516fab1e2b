#ifndef PARAM_SERVER_COMMON_BAG_CHECK_H_
#define PARAM_SERVER_COMMON_BAG_CHECK_H_

// What both sides of a pooled lookup (tf.nn.embedding_lookup_sparse) agree
// on about its bags: which bags are well formed, where each ends, and what
// the combiner divides each by. Pure functions over BagSpec.

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "common/update_spec.h"

namespace paramserver {

// Most bags one call may carry (as ids).
inline constexpr size_t kMaxBags = size_t{1} << 22;

// INVALID_ARGUMENT unless `bags` describes bags of `num_ids` ids: at most
// kMaxBags offsets, the first 0, none decreasing or past `num_ids`; no
// offsets only for no ids; no weights or one per id; a known combiner.
absl::Status CheckBags(const BagSpec& bags, size_t num_ids);

// One past the last id of bag `b` of checked `bags` over `num_ids` ids.
inline size_t BagEnd(const BagSpec& bags, size_t b, size_t num_ids) {
  return b + 1 < bags.offsets.size() ? static_cast<size_t>(bags.offsets[b + 1])
                                     : num_ids;
}

// Id k's weight: 1 when the bags carry no weights.
inline float BagWeight(const BagSpec& bags, size_t k) {
  return bags.weights.empty() ? 1.0f : bags.weights[k];
}

// What the combiner divides the weighted sum of ids [begin, end) by: 1 for
// sum, the sum of their weights for mean, the square root of the sum of
// their squares for sqrtn.
float BagDivisor(const BagSpec& bags, size_t begin, size_t end);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_BAG_CHECK_H_
