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

absl::StatusOr<uint64_t> ValueByteSize(absl::Span<const int64_t> shape,
                                       DType dtype) {
  if (!IsValidDType(static_cast<int>(dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid dtype ", static_cast<int>(dtype), "."));
  }
  absl::StatusOr<int64_t> elements = NumElements(shape);
  if (!elements.ok()) return elements.status();
  const uint64_t element_size = DTypeSize(dtype);
  // Divided, not multiplied: the product is what may wrap around.
  if (static_cast<uint64_t>(*elements) >
      std::numeric_limits<uint64_t>::max() / element_size) {
    return absl::OutOfRangeError(
        absl::StrCat("A value of shape ", ShapeToString(shape), " and dtype ",
                     DTypeName(dtype), " has more than 2^64 bytes."));
  }
  return static_cast<uint64_t>(*elements) * element_size;
}

}  // namespace paramserver
