#ifndef PARAM_SERVER_COMMON_TENSOR_SHAPE_H_
#define PARAM_SERVER_COMMON_TENSOR_SHAPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace paramserver {

// A fully defined shape: one non-negative size per dimension, outermost first.
using TensorShape = std::vector<int64_t>;

// TensorFlow's limit on rank is 254; real models stay far below this one.
inline constexpr int kMaxRank = 32;

// Python's tuple notation, as TensorFlow prints shapes: "()", "(2,)", "(5, 5)".
std::string ShapeToString(absl::Span<const int64_t> shape);

// The number of elements, or INVALID_ARGUMENT when the shape has too many
// dimensions, a negative dimension, or a product that overflows int64.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_TENSOR_SHAPE_H_
