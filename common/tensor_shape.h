#ifndef PARAM_SERVER_COMMON_TENSOR_SHAPE_H_
#define PARAM_SERVER_COMMON_TENSOR_SHAPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/dtype.h"

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

// The bytes of a value of `shape` and `dtype` (elements times DTypeSize).
// NumElements's INVALID_ARGUMENT for a bad shape; INVALID_ARGUMENT for a
// dtype that is not a DType; OUT_OF_RANGE when the size does not fit in 64
// bits, where multiplying it out would wrap around 2^64 (2^62 floats would
// "need" 0 bytes). Callers that compare a byte count with it put their own
// error on OUT_OF_RANGE, as no count can match such a size.
absl::StatusOr<uint64_t> ValueByteSize(absl::Span<const int64_t> shape,
                                       DType dtype);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_TENSOR_SHAPE_H_
