#ifndef PARAM_SERVER_SERVER_INITIALIZER_H_
#define PARAM_SERVER_SERVER_INITIALIZER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/dtype.h"
#include "server/number.h"
#include "server/tensor_shape.h"

namespace paramserver {

// TensorFlow 1.x's variable initializers. They run on the server, once, when
// a variable is created, so every worker sees the same value.
enum class InitializerKind {
  kDefault,  // glorot_uniform for floating dtypes, zeros otherwise (as TF).
  kZeros,
  kOnes,
  kConstant,
  kRandomUniform,
  kRandomNormal,
  kTruncatedNormal,
  kGlorotUniform,
  kGlorotNormal,
  kVarianceScaling,
};

enum class FanMode { kFanIn, kFanOut, kFanAvg };

enum class ScalingDistribution { kTruncatedNormal, kUntruncatedNormal, kUniform };

// Parameters left unset take TensorFlow 1.x's defaults: minval 0, maxval 1
// (floating dtypes only; integer ones must set it, as in TF), mean 0,
// stddev 1, scale 1. Numbers given as integers stay exact over all of int64.
struct InitializerSpec {
  InitializerKind kind = InitializerKind::kDefault;
  // kConstant, as TF 1.15's constant_initializer(value) fills a variable: the
  // values in row-major order, the last one repeated to the end, so one value
  // fills any shape and none is TF's default 0; more values than the variable
  // has elements is INVALID_ARGUMENT. `value_shape`, when set, is the value's
  // own shape (it must hold exactly values.size() values) and asks for TF's
  // verify_shape=True: it must equal the variable's shape, except that the
  // scalar shape () with one value fills any shape. Without a variable shape,
  // a list implies `value_shape`, or [values.size()] (see ImpliedShape).
  std::vector<Number> values;
  std::optional<TensorShape> value_shape;
  std::optional<Number> minval;
  std::optional<Number> maxval;
  std::optional<double> mean;
  std::optional<double> stddev;
  std::optional<double> scale;
  FanMode mode = FanMode::kFanIn;
  ScalingDistribution distribution = ScalingDistribution::kTruncatedNormal;
  // With a seed the initializer's output is a pure function of (spec, dtype,
  // shape), the same on every machine. Without one it differs per call.
  std::optional<int64_t> seed;
  // Set for one partition of a partitioned variable: the whole variable's
  // shape, from which variance-scaling initializers (Glorot included) take
  // their fans, as TensorFlow's partition_info.full_shape.
  std::optional<TensorShape> full_shape;
};

// "zeros", "random_normal", ... (TensorFlow's snake_case names).
const char* InitializerName(InitializerKind kind);

// The shape a kConstant value implies, for creating a variable whose request
// gave no shape, as TensorFlow's get_variable(name, initializer=value) takes
// the value's: `value_shape` if set, else [] for a single value (TF's
// initializer=4 is a scalar) and [values.size()] for a list. nullopt for
// every other initializer and for a constant without values.
std::optional<TensorShape> ImpliedShape(const InitializerSpec& spec);

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
