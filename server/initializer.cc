#include "server/initializer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/macros.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/initializer_fill.h"

// Validation and resolution of initializer specs; initializer_fill.cc writes
// the elements. -ffp-contract=off (BUILD) keeps the fans and scales computed
// here bit-identical on every platform too.

namespace paramserver {
namespace {

// ---------------------------------------------------------------------------
// TensorFlow's constants and defaults.

constexpr int kDefaultMinval = 0;
constexpr int kDefaultMaxval = 1;  // Floating dtypes only.
constexpr double kDefaultMean = 0.0;
constexpr double kDefaultStddev = 1.0;
constexpr double kDefaultScale = 1.0;

// scipy.stats.truncnorm.std(a=-2, b=2): variance_scaling divides its stddev by
// this so that the truncated samples keep the intended variance.
constexpr double kTruncatedUnitStddev = 0.87962566103423978;

InitializerKind ResolveKind(InitializerKind kind, DType dtype) {
  if (kind != InitializerKind::kDefault) return kind;
  return IsFloatingDType(dtype) ? InitializerKind::kGlorotUniform
                                : InitializerKind::kZeros;
}

Number MinvalOf(const InitializerSpec& s) {
  return s.minval.value_or(kDefaultMinval);
}
Number MaxvalOf(const InitializerSpec& s) {
  return s.maxval.value_or(kDefaultMaxval);
}
double MeanOf(const InitializerSpec& s) {
  return s.mean.value_or(kDefaultMean);
}
double StddevOf(const InitializerSpec& s) {
  return s.stddev.value_or(kDefaultStddev);
}
double ScaleOf(const InitializerSpec& s) {
  return s.scale.value_or(kDefaultScale);
}

// ---------------------------------------------------------------------------
// Validation helpers.

// Python-like shortest round-trip text ("0.1", not "0.10000000000000001").
std::string FormatValue(Number value) { return value.ToString(); }

// Whether `value` converts to `dtype` without changing (integers, bool) or
// overflowing (float32). NaN and infinity are fine for floating variables;
// integers only round there.
bool FitsDType(Number value, DType dtype) {
  switch (dtype) {
    case DType::kFloat: {
      const double d = value.ToDouble();
      return value.is_integer() || !std::isfinite(d) ||
             std::fabs(d) <= std::numeric_limits<float>::max();
    }
    case DType::kDouble:
      return true;
    case DType::kInt32:
      return value.IsIntegerIn(std::numeric_limits<int32_t>::min(),
                               std::numeric_limits<int32_t>::max());
    case DType::kInt64:
      return value.IsIntegerIn(std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max());
    case DType::kBool:
      return value.IsIntegerIn(0, 1);
  }
  return false;
}

// TF's repr of a dtype, as its messages print it: "tf.int32".
std::string TfDTypeRepr(DType dtype) {
  return absl::StrCat("tf.", DTypeName(dtype));
}

std::string KindPrefix(InitializerKind kind, absl::string_view full_name) {
  return absl::StrCat("Initializer ", InitializerName(kind), " for variable ",
                      full_name);
}

absl::Status RequireFloating(InitializerKind kind, DType dtype,
                             absl::string_view full_name) {
  if (IsFloatingDType(dtype)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      KindPrefix(kind, full_name), " requires a floating point dtype, got ",
      DTypeName(dtype), "."));
}

// TF converts each parameter to the variable's dtype, so it must be a finite
// value of that dtype.
absl::Status RequireFiniteParam(InitializerKind kind, absl::string_view param,
                                double value, DType dtype,
                                absl::string_view full_name) {
  if (std::isfinite(value) && FitsDType(value, dtype)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      KindPrefix(kind, full_name), " has ", param, " ", FormatValue(value),
      ", which is not a finite ", DTypeName(dtype), "."));
}

// value_shape given: TF's verify_shape=True.
absl::Status ValidateConstantShape(const InitializerSpec& spec,
                                   absl::Span<const int64_t> shape,
                                   absl::string_view full_name) {
  const TensorShape list_shape = ConstantListShape(spec);
  const absl::StatusOr<int64_t> count = NumElements(list_shape);
  if (!count.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Constant initializer for variable ", full_name,
        " has an invalid value_shape: ", count.status().message()));
  }
  if (*count != static_cast<int64_t>(spec.values.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Constant initializer for variable ", full_name, " has ",
                     spec.values.size(), " values but its value_shape ",
                     ShapeToString(list_shape), " holds ", *count, "."));
  }
  if (!std::equal(list_shape.begin(), list_shape.end(), shape.begin(),
                  shape.end())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Constant initializer for variable ", full_name, " has shape ",
        ShapeToString(list_shape), " but the variable's shape is ",
        ShapeToString(shape), "."));
  }
  return absl::OkStatus();
}

// TF's make_tensor_proto: a value may have fewer elements than the shape
// (the last is repeated), not more; a shape of no elements takes any value.
absl::Status ValidateConstantCount(const InitializerSpec& spec,
                                   absl::Span<const int64_t> shape,
                                   absl::string_view full_name) {
  const int64_t needed = NumElements(shape).value_or(0);
  const int64_t received = static_cast<int64_t>(spec.values.size());
  if (needed == 0 || received <= needed) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Too many elements provided. Needed at most ", needed, ", but received ",
      received, " (constant initializer of variable ", full_name, ")."));
}

absl::Status ValidateConstant(const InitializerSpec& spec, DType dtype,
                              absl::Span<const int64_t> shape,
                              absl::string_view full_name) {
  absl::Status status;
  if (!spec.value_shape.has_value()) {
    status = ValidateConstantCount(spec, shape, full_name);
  } else if (!IsBroadcastConstant(spec)) {
    status = ValidateConstantShape(spec, shape, full_name);
  }
  if (!status.ok()) return status;
  for (size_t i = 0; i < spec.values.size(); ++i) {
    if (FitsDType(spec.values[i], dtype)) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "Constant initializer for variable ", full_name, " has value ",
        FormatValue(spec.values[i]), " at index ", i, ", which is not a valid ",
        DTypeName(dtype), dtype == DType::kBool ? " (must be 0 or 1)." : "."));
  }
  return absl::OkStatus();
}

// The bounds as the variable's dtype holds them: TF casts them before sampling.
double RoundToDType(Number value, DType dtype) {
  return dtype == DType::kFloat ? static_cast<float>(value.ToDouble())
                                : value.ToDouble();
}

bool IsEmptyRange(Number lo, Number hi, DType dtype) {
  if (!IsFloatingDType(dtype)) return !(lo.ToInt64() < hi.ToInt64());
  return !(RoundToDType(lo, dtype) < RoundToDType(hi, dtype));
}

// Integer variables need integral bounds: TF casts them to the dtype.
absl::Status ValidateUniformBound(absl::string_view param, Number value,
                                  DType dtype, absl::string_view full_name) {
  if (std::isfinite(value.ToDouble()) && FitsDType(value, dtype)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      KindPrefix(InitializerKind::kRandomUniform, full_name), " has ", param,
      " ", FormatValue(value), ", which is not a ",
      IsFloatingDType(dtype) ? "finite " : "valid ", DTypeName(dtype), "."));
}

absl::Status ValidateUniformRange(const InitializerSpec& spec, DType dtype,
                                  absl::string_view full_name) {
  const InitializerKind kind = InitializerKind::kRandomUniform;
  const Number lo = MinvalOf(spec);
  const Number hi = MaxvalOf(spec);
  absl::Status status = ValidateUniformBound("minval", lo, dtype, full_name);
  if (!status.ok()) return status;
  status = ValidateUniformBound("maxval", hi, dtype, full_name);
  if (!status.ok()) return status;
  if (IsEmptyRange(lo, hi, dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has minval ",
                     FormatValue(lo), " and maxval ", FormatValue(hi),
                     "; it needs minval < maxval in ", DTypeName(dtype), "."));
  }
  if (IsFloatingDType(dtype) && !std::isfinite(hi.ToDouble() - lo.ToDouble())) {
    return absl::InvalidArgumentError(absl::StrCat(
        KindPrefix(kind, full_name), " has a range [", FormatValue(lo), ", ",
        FormatValue(hi), ") too wide for float64 arithmetic."));
  }
  return absl::OkStatus();
}

absl::Status ValidateRandomUniform(const InitializerSpec& spec, DType dtype,
                                   absl::string_view full_name) {
  if (dtype == DType::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(InitializerKind::kRandomUniform, full_name),
                     " requires a floating point or integer dtype, got bool."));
  }
  if (!IsFloatingDType(dtype) && !spec.maxval.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Must specify maxval for integer dtype ", TfDTypeRepr(dtype), " (",
        InitializerName(InitializerKind::kRandomUniform),
        " initializer of variable ", full_name, ")."));
  }
  return ValidateUniformRange(spec, dtype, full_name);
}

absl::Status ValidateNormal(const InitializerSpec& spec, InitializerKind kind,
                            DType dtype, absl::string_view full_name) {
  absl::Status status = RequireFloating(kind, dtype, full_name);
  if (status.ok()) {
    status = RequireFiniteParam(kind, "mean", MeanOf(spec), dtype, full_name);
  }
  if (status.ok()) {
    status =
        RequireFiniteParam(kind, "stddev", StddevOf(spec), dtype, full_name);
  }
  // A negative stddev is fine: TF computes mean + stddev * z, and so do we.
  return status;
}

bool IsValidMode(FanMode mode) {
  return mode == FanMode::kFanIn || mode == FanMode::kFanOut ||
         mode == FanMode::kFanAvg;
}

bool IsValidDistribution(ScalingDistribution d) {
  return d == ScalingDistribution::kTruncatedNormal ||
         d == ScalingDistribution::kUntruncatedNormal ||
         d == ScalingDistribution::kUniform;
}

absl::Status ValidateVarianceScaling(const InitializerSpec& spec, DType dtype,
                                     absl::string_view full_name) {
  const InitializerKind kind = InitializerKind::kVarianceScaling;
  absl::Status status = RequireFloating(kind, dtype, full_name);
  if (!status.ok()) return status;
  const double scale = ScaleOf(spec);
  if (scale <= 0) {  // TF 1.15's VarianceScaling.__init__ check and text.
    return absl::InvalidArgumentError(
        absl::StrCat("`scale` must be positive float. (", InitializerName(kind),
                     " initializer of variable ", full_name, " has scale ",
                     FormatValue(scale), ")"));
  }
  if (!std::isfinite(scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has scale ",
                     FormatValue(scale), "; it must be finite."));
  }
  if (!IsValidMode(spec.mode) || !IsValidDistribution(spec.distribution)) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has an unknown mode (",
                     static_cast<int>(spec.mode), ") or distribution (",
                     static_cast<int>(spec.distribution), ")."));
  }
  return absl::OkStatus();
}

// A partition's full shape has the partition's rank and is at least as large
// in every dimension.
absl::Status ValidateFullShape(const InitializerSpec& spec,
                               absl::Span<const int64_t> shape,
                               absl::string_view full_name) {
  if (!spec.full_shape) return absl::OkStatus();
  const TensorShape& full = *spec.full_shape;
  bool fits = full.size() == shape.size() && NumElements(full).ok();
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = full[i] >= shape[i];
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Variable ", full_name, " of shape ", ShapeToString(shape),
        " cannot be a partition of full shape ", ShapeToString(full), "."));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// What to write, resolved from the spec: every initializer reduces to one of
// these, so the typed fill code below sees five cases instead of ten.

FillPlan ValuePlan(Number value) {
  FillPlan plan;
  plan.value = value;
  return plan;
}

FillPlan UniformPlan(Number lo, Number hi) {
  FillPlan plan;
  plan.op = FillOp::kUniform;
  plan.lo = lo;
  plan.hi = hi;
  return plan;
}

FillPlan NormalPlan(FillOp op, double mean, double stddev) {
  FillPlan plan;
  plan.op = op;
  plan.mean = mean;
  plan.stddev = stddev;
  return plan;
}

// The shape whose fans scale the distribution: the whole variable's for a
// partition (TF's partition_info.full_shape), otherwise the variable's own.
absl::Span<const int64_t> FanShape(const InitializerSpec& spec,
                                   absl::Span<const int64_t> shape) {
  if (spec.full_shape) return *spec.full_shape;
  return shape;
}

// TF 1.x's VarianceScaling.__call__, with its order of operations.
FillPlan ScalingPlan(double scale, FanMode mode,
                     ScalingDistribution distribution,
                     absl::Span<const int64_t> shape) {
  const Fans fans = ComputeFans(shape);
  switch (mode) {
    case FanMode::kFanIn:
      scale /= std::max(1.0, fans.fan_in);
      break;
    case FanMode::kFanOut:
      scale /= std::max(1.0, fans.fan_out);
      break;
    case FanMode::kFanAvg:
      scale /= std::max(1.0, (fans.fan_in + fans.fan_out) / 2.0);
      break;
  }
  switch (distribution) {
    case ScalingDistribution::kTruncatedNormal:
      return NormalPlan(FillOp::kTruncatedNormal, 0.0,
                        std::sqrt(scale) / kTruncatedUnitStddev);
    case ScalingDistribution::kUntruncatedNormal:
      return NormalPlan(FillOp::kNormal, 0.0, std::sqrt(scale));
    case ScalingDistribution::kUniform:
      break;
  }
  const double limit = std::sqrt(3.0 * scale);
  return UniformPlan(-limit, limit);
}

FillPlan MakePlan(const InitializerSpec& spec, DType dtype,
                  absl::Span<const int64_t> shape) {
  switch (ResolveKind(spec.kind, dtype)) {
    case InitializerKind::kDefault:  // Resolved above; never reached.
    case InitializerKind::kZeros:
      return ValuePlan(0);
    case InitializerKind::kOnes:
      return ValuePlan(1);
    case InitializerKind::kConstant:
      if (spec.values.empty()) return ValuePlan(0);
      return FillPlan{FillOp::kCopyValues};
    case InitializerKind::kRandomUniform:
      return UniformPlan(MinvalOf(spec), MaxvalOf(spec));
    case InitializerKind::kRandomNormal:
      return NormalPlan(FillOp::kNormal, MeanOf(spec), StddevOf(spec));
    case InitializerKind::kTruncatedNormal:
      return NormalPlan(FillOp::kTruncatedNormal, MeanOf(spec), StddevOf(spec));
    case InitializerKind::kGlorotUniform:
      return ScalingPlan(1.0, FanMode::kFanAvg, ScalingDistribution::kUniform,
                         FanShape(spec, shape));
    case InitializerKind::kGlorotNormal:
      return ScalingPlan(1.0, FanMode::kFanAvg,
                         ScalingDistribution::kTruncatedNormal,
                         FanShape(spec, shape));
    case InitializerKind::kVarianceScaling:
      return ScalingPlan(ScaleOf(spec), spec.mode, spec.distribution,
                         FanShape(spec, shape));
  }
  return ValuePlan(0);
}

}  // namespace

Fans ComputeFans(absl::Span<const int64_t> shape) {
  const size_t rank = shape.size();
  if (rank == 0) return {1.0, 1.0};
  if (rank == 1) {
    const double d = static_cast<double>(shape[0]);
    return {d, d};
  }
  double receptive_field = 1.0;
  for (size_t i = 0; i + 2 < rank; ++i) receptive_field *= shape[i];
  return {static_cast<double>(shape[rank - 2]) * receptive_field,
          static_cast<double>(shape[rank - 1]) * receptive_field};
}

absl::Status ValidateInitializer(const InitializerSpec& spec, DType dtype,
                                 absl::Span<const int64_t> shape,
                                 absl::string_view full_name) {
  if (!IsValidDType(static_cast<int>(dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Variable ", full_name, " has an invalid dtype (",
                     static_cast<int>(dtype), ")."));
  }
  const absl::StatusOr<int64_t> count = NumElements(shape);
  if (!count.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Variable ", full_name, ": ", count.status().message()));
  }
  if (absl::Status s = ValidateFullShape(spec, shape, full_name); !s.ok()) {
    return s;
  }
  const InitializerKind kind = ResolveKind(spec.kind, dtype);
  switch (kind) {
    case InitializerKind::kDefault:  // Resolved above; never reached.
    case InitializerKind::kZeros:
    case InitializerKind::kOnes:
      return absl::OkStatus();
    case InitializerKind::kConstant:
      return ValidateConstant(spec, dtype, shape, full_name);
    case InitializerKind::kRandomUniform:
      return ValidateRandomUniform(spec, dtype, full_name);
    case InitializerKind::kRandomNormal:
    case InitializerKind::kTruncatedNormal:
      return ValidateNormal(spec, kind, dtype, full_name);
    case InitializerKind::kGlorotUniform:
    case InitializerKind::kGlorotNormal:
      return RequireFloating(kind, dtype, full_name);
    case InitializerKind::kVarianceScaling:
      return ValidateVarianceScaling(spec, dtype, full_name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Variable ", full_name, " has an unknown initializer kind (",
                   static_cast<int>(spec.kind), ")."));
}

void RunInitializer(const InitializerSpec& spec, DType dtype,
                    absl::Span<const int64_t> shape, absl::Span<char> out) {
  const size_t element_size = DTypeSize(dtype);
  if (element_size == 0) return;
  const int64_t count = NumElements(shape).value_or(0);
  ABSL_ASSERT(out.size() == static_cast<size_t>(count) * element_size);
  // Never write past `out`, even when the precondition is broken.
  const int64_t n = std::min<int64_t>(count, out.size() / element_size);
  const FillPlan plan = MakePlan(spec, dtype, shape);
  FillElements(plan, spec, dtype, n, out.data());
}

}  // namespace paramserver
