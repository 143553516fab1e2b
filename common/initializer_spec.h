#ifndef PARAM_SERVER_COMMON_INITIALIZER_SPEC_H_
#define PARAM_SERVER_COMMON_INITIALIZER_SPEC_H_

// What an initializer is, as both sides of the wire speak of it. The code
// that validates a spec against a variable and writes its values runs on the
// server (server/initializer.h).

#include <cstdint>
#include <optional>
#include <vector>

#include "common/dtype.h"
#include "common/number.h"
#include "common/tensor_shape.h"

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

enum class ScalingDistribution {
  kTruncatedNormal,
  kUntruncatedNormal,
  kUniform
};

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

// Whether a kConstant spec is one scalar broadcast to any shape: a single
// value with no value_shape or with value_shape (), or no values at all
// (TF's default constant_initializer(value=0)). Any other value_shape, even
// (1,), makes the value a tensor whose shape must match the variable's.
bool IsBroadcastConstant(const InitializerSpec& spec);

// The shape of a kConstant spec's values: `value_shape` if set, else
// [values.size()].
TensorShape ConstantListShape(const InitializerSpec& spec);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_INITIALIZER_SPEC_H_
