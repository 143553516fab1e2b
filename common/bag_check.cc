#include "common/bag_check.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace paramserver {

absl::Status CheckBags(const BagSpec& bags, size_t num_ids) {
  if (bags.combiner != Combiner::kMean && bags.combiner != Combiner::kSum &&
      bags.combiner != Combiner::kSqrtn) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown combiner ", static_cast<int>(bags.combiner),
                     "; embedding_lookup_sparse combines by mean, sum or "
                     "sqrtn."));
  }
  if (bags.offsets.size() > kMaxBags) {
    return absl::InvalidArgumentError(
        absl::StrCat("A call may carry at most ", kMaxBags,
                     " bags; this one has ", bags.offsets.size(), "."));
  }
  if (!bags.weights.empty() && bags.weights.size() != num_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("Bags have ", num_ids, " ids but ", bags.weights.size(),
                     " weights; give one weight per id, or none."));
  }
  if (bags.offsets.empty()) {
    if (num_ids == 0) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(num_ids, " ids in no bag: bag offsets are empty."));
  }
  if (bags.offsets[0] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bag_offsets[0] = ", bags.offsets[0], "; the first bag starts at 0."));
  }
  for (size_t b = 1; b < bags.offsets.size(); ++b) {
    if (bags.offsets[b] < bags.offsets[b - 1] ||
        bags.offsets[b] > static_cast<int64_t>(num_ids)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bag_offsets[", b, "] = ", bags.offsets[b],
                       " is not in [", bags.offsets[b - 1], ", ", num_ids,
                       "]: offsets never decrease and stay within the ids."));
    }
  }
  return absl::OkStatus();
}

float BagDivisor(const BagSpec& bags, size_t begin, size_t end) {
  if (bags.combiner == Combiner::kSum) return 1.0f;
  float sum = 0;
  for (size_t k = begin; k < end; ++k) {
    const float w = BagWeight(bags, k);
    sum += bags.combiner == Combiner::kMean ? w : w * w;
  }
  return bags.combiner == Combiner::kMean ? sum : std::sqrt(sum);
}

}  // namespace paramserver
