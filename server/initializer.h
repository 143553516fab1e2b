#ifndef PARAM_SERVER_SERVER_INITIALIZER_H_
#define PARAM_SERVER_SERVER_INITIALIZER_H_

// The server's half of the initializers: validating a spec against a
// variable and writing its values (common/initializer_spec.h says what a
// spec is).

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/dtype.h"
#include "common/initializer_spec.h"

namespace paramserver {

// TensorFlow's fan computation for a weight of this shape (HWIO for 2-D
// convolution kernels): rank 0 -> (1, 1); rank 1 -> (d0, d0); rank 2 ->
// (d0, d1); higher ranks -> receptive field = product of all but the last two
// dimensions, fan_in = d[-2] * field, fan_out = d[-1] * field.
struct Fans {
  double fan_in;
  double fan_out;
};
Fans ComputeFans(absl::Span<const int64_t> shape);

// INVALID_ARGUMENT when `spec` cannot initialize a variable of this dtype and
// shape: a constant with more values than `shape` holds (TF's "Too many
// elements provided. Needed at most 6, but received 8"), whose value_shape
// conflicts with `shape`, or whose values do not fit `dtype` (non-integral or
// out of range for integers, not 0/1 for bool); a distribution that needs a
// floating dtype; random_uniform of an integer dtype without maxval (TF's
// "Must specify maxval for integer dtype tf.int32"); minval >= maxval,
// scale <= 0 (TF's "`scale` must be positive float."), NaN or infinite
// parameters. A negative stddev is accepted, as in TF. Messages name the
// variable `full_name`.
absl::Status ValidateInitializer(const InitializerSpec& spec, DType dtype,
                                 absl::Span<const int64_t> shape,
                                 absl::string_view full_name);

// Writes the initial value into `out`, which holds exactly
// NumElements(shape) * DTypeSize(dtype) bytes, little-endian, row-major.
// Precondition: ValidateInitializer(spec, dtype, shape, ...) returned OK.
void RunInitializer(const InitializerSpec& spec, DType dtype,
                    absl::Span<const int64_t> shape, absl::Span<char> out);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_INITIALIZER_H_
