#include "common/tensor_shape.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace paramserver {

std::string ShapeToString(absl::Span<const int64_t> shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape) {
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Shape has rank ", shape.size(),
                     ", more than the supported maximum of ", kMaxRank, "."));
  }
  bool has_zero = false;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Dimension ", dim, " must be >= 0 in shape ",
                       ShapeToString(shape), "."));
    }
    has_zero |= dim == 0;
  }
  if (has_zero) return 0;
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (count > std::numeric_limits<int64_t>::max() / dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("Shape ", ShapeToString(shape),
                       " has too many elements: the count overflows int64."));
    }
    count *= dim;
  }
  return count;
}

}  // namespace paramserver
