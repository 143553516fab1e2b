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

// Seeded values must be bit-identical on every platform. Every floating point
// operation below is one IEEE 754 rounds exactly (+, -, *, /, sqrt,
// conversions) or exact bit manipulation; no libm function is used. The BUILD
// rule adds -ffp-contract=off so that no compiler fuses a * b + c into an FMA,
// which rounds once instead of twice.

namespace paramserver {
namespace {

// ---------------------------------------------------------------------------
// TensorFlow's constants and defaults.

constexpr double kDefaultMinval = 0.0;
constexpr double kDefaultMaxval = 1.0;
constexpr double kDefaultMean = 0.0;
constexpr double kDefaultStddev = 1.0;
constexpr double kDefaultScale = 1.0;

// truncated_normal re-draws samples this many stddevs or more from the mean.
constexpr double kTruncationBound = 2.0;
// scipy.stats.truncnorm.std(a=-2, b=2): variance_scaling divides its stddev by
// this so that the truncated samples keep the intended variance.
constexpr double kTruncatedUnitStddev = 0.87962566103423978;

InitializerKind ResolveKind(InitializerKind kind, DType dtype) {
  if (kind != InitializerKind::kDefault) return kind;
  return IsFloatingDType(dtype) ? InitializerKind::kGlorotUniform
                                : InitializerKind::kZeros;
}

double MinvalOf(const InitializerSpec& s) {
  return s.minval.value_or(kDefaultMinval);
}
double MaxvalOf(const InitializerSpec& s) {
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

// A constant is broadcast when it is one scalar: a single value with no
// value_shape or with value_shape (). No values at all is TF's default
// constant_initializer(value=0). Any other value_shape, even (1,), makes the
// value a tensor whose shape must match the variable's exactly.
bool IsBroadcast(const InitializerSpec& spec) {
  if (!spec.value_shape.has_value()) return spec.values.size() <= 1;
  return spec.value_shape->empty() && spec.values.size() == 1;
}

double BroadcastValue(const InitializerSpec& spec) {
  return spec.values.empty() ? 0.0 : spec.values[0];
}

TensorShape ListShape(const InitializerSpec& spec) {
  if (spec.value_shape.has_value()) return *spec.value_shape;
  return {static_cast<int64_t>(spec.values.size())};
}

// ---------------------------------------------------------------------------
// Validation helpers.

// Python-like shortest round-trip text ("0.1", not "0.10000000000000001").
std::string FormatValue(double value) {
  for (int precision = 15; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

bool IsIntegralIn(double value, double lowest, double limit) {
  return std::trunc(value) == value && value >= lowest && value < limit;
}

// Whether `value` converts to `dtype` without changing (integers, bool) or
// overflowing (float32). NaN and infinity are fine for floating variables.
bool FitsDType(double value, DType dtype) {
  switch (dtype) {
    case DType::kFloat:
      return !std::isfinite(value) ||
             std::fabs(value) <= std::numeric_limits<float>::max();
    case DType::kDouble:
      return true;
    case DType::kInt32:
      return IsIntegralIn(value, -0x1p31, 0x1p31);
    case DType::kInt64:
      return IsIntegralIn(value, -0x1p63, 0x1p63);
    case DType::kBool:
      return value == 0.0 || value == 1.0;
  }
  return false;
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

absl::Status ValidateConstantShape(const InitializerSpec& spec,
                                   absl::Span<const int64_t> shape,
                                   absl::string_view full_name) {
  const TensorShape list_shape = ListShape(spec);
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

absl::Status ValidateConstant(const InitializerSpec& spec, DType dtype,
                              absl::Span<const int64_t> shape,
                              absl::string_view full_name) {
  if (!IsBroadcast(spec)) {
    absl::Status status = ValidateConstantShape(spec, shape, full_name);
    if (!status.ok()) return status;
  }
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
double RoundToDType(double value, DType dtype) {
  return dtype == DType::kFloat ? static_cast<float>(value) : value;
}

// Integer variables need integral bounds: TF casts them to the dtype.
absl::Status ValidateUniformBound(absl::string_view param, double value,
                                  DType dtype, absl::string_view full_name) {
  if (std::isfinite(value) && FitsDType(value, dtype)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      KindPrefix(InitializerKind::kRandomUniform, full_name), " has ", param,
      " ", FormatValue(value), ", which is not a ",
      IsFloatingDType(dtype) ? "finite " : "valid ", DTypeName(dtype), "."));
}

absl::Status ValidateUniformRange(const InitializerSpec& spec, DType dtype,
                                  absl::string_view full_name) {
  const InitializerKind kind = InitializerKind::kRandomUniform;
  const double lo = MinvalOf(spec);
  const double hi = MaxvalOf(spec);
  absl::Status status = ValidateUniformBound("minval", lo, dtype, full_name);
  if (!status.ok()) return status;
  status = ValidateUniformBound("maxval", hi, dtype, full_name);
  if (!status.ok()) return status;
  if (!(RoundToDType(lo, dtype) < RoundToDType(hi, dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has minval ",
                     FormatValue(lo), " and maxval ", FormatValue(hi),
                     "; it needs minval < maxval in ", DTypeName(dtype), "."));
  }
  if (!std::isfinite(hi - lo)) {
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
  if (status.ok() && StddevOf(spec) < 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has stddev ",
                     FormatValue(StddevOf(spec)), "; it must be >= 0."));
  }
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
  if (!std::isfinite(scale) || scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has scale ",
                     FormatValue(scale), "; it must be finite and > 0."));
  }
  if (!IsValidMode(spec.mode) || !IsValidDistribution(spec.distribution)) {
    return absl::InvalidArgumentError(
        absl::StrCat(KindPrefix(kind, full_name), " has an unknown mode (",
                     static_cast<int>(spec.mode), ") or distribution (",
                     static_cast<int>(spec.distribution), ")."));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// What to write, resolved from the spec: every initializer reduces to one of
// these, so the typed fill code below sees five cases instead of ten.

enum class FillOp { kValue, kCopyValues, kUniform, kNormal, kTruncatedNormal };

struct FillPlan {
  FillOp op = FillOp::kValue;
  double value = 0;  // kValue.
  double lo = 0;     // kUniform: [lo, hi).
  double hi = 0;
  double mean = 0;  // kNormal, kTruncatedNormal.
  double stddev = 0;
};

FillPlan ValuePlan(double value) {
  FillPlan plan;
  plan.value = value;
  return plan;
}

FillPlan UniformPlan(double lo, double hi) {
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
      return ValuePlan(0.0);
    case InitializerKind::kOnes:
      return ValuePlan(1.0);
    case InitializerKind::kConstant:
      if (IsBroadcast(spec)) return ValuePlan(BroadcastValue(spec));
      return FillPlan{FillOp::kCopyValues};
    case InitializerKind::kRandomUniform:
      return UniformPlan(MinvalOf(spec), MaxvalOf(spec));
    case InitializerKind::kRandomNormal:
      return NormalPlan(FillOp::kNormal, MeanOf(spec), StddevOf(spec));
    case InitializerKind::kTruncatedNormal:
      return NormalPlan(FillOp::kTruncatedNormal, MeanOf(spec), StddevOf(spec));
    case InitializerKind::kGlorotUniform:
      return ScalingPlan(1.0, FanMode::kFanAvg, ScalingDistribution::kUniform,
                         shape);
    case InitializerKind::kGlorotNormal:
      return ScalingPlan(1.0, FanMode::kFanAvg,
                         ScalingDistribution::kTruncatedNormal, shape);
    case InitializerKind::kVarianceScaling:
      return ScalingPlan(ScaleOf(spec), spec.mode, spec.distribution, shape);
  }
  return ValuePlan(0.0);
}

// ---------------------------------------------------------------------------
// Random numbers. SplitMix64 (Steele, Lea & Flood, 2014) is fully specified
// by these few lines, unlike std::normal_distribution and friends, whose
// algorithms each standard library chooses; it passes BigCrush.

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next() {
    state_ += kGoldenGamma;
    return Mix64(state_);
  }

 private:
  uint64_t state_;
};

// Elements are generated in blocks, each from its own stream, so that a
// block's values do not depend on how many draws earlier blocks re-drew and
// blocks can be filled in any order. Changing this changes every seeded value.
constexpr int64_t kBlockElements = int64_t{1} << 16;

// Block b's stream starts 2^32 draws after block b-1's on SplitMix64's single
// cycle of 2^64 states, so streams never overlap while a block of 2^16
// elements takes fewer than 2^32 draws (it takes under 2^17).
SplitMix64 BlockStream(uint64_t key, int64_t block) {
  return SplitMix64(key + static_cast<uint64_t>(block) * (kGoldenGamma << 32));
}

uint64_t StreamKey(const std::optional<int64_t>& seed) {
  if (seed.has_value()) {
    return SplitMix64(static_cast<uint64_t>(*seed)).Next();
  }
  absl::BitGen entropy;  // Seeded by the OS, so every unseeded call differs.
  return absl::Uniform<uint64_t>(entropy);
}

// Uniform in [0, 1) on the 2^53 multiples of 2^-53: exact in a double.
double Uniform01(SplitMix64& rng) {
  return static_cast<double>(rng.Next() >> 11) * 0x1p-53;
}

// ln(x) for a positive normal x. std::log's last bit differs between C
// libraries; this uses only exactly rounded operations, so it is the same
// everywhere, and it is accurate to about an ulp. x = m * 2^e with m in
// [sqrt(1/2), sqrt(2)); ln(m) = 2 atanh(z) = 2 (z + z^3/3 + z^5/5 + ...) with
// z = (m-1)/(m+1), |z| < 0.172, so eleven terms reach 1e-17. The series is
// summed by Estrin's scheme: independent products keep the CPU busy, which
// matters because this is most of the cost of a normal sample.
inline double Log(double x) {
  constexpr double kLn2 = 0.6931471805599453094;
  constexpr double kSqrtHalf = 0.7071067811865475244;
  constexpr uint64_t kMantissaMask = (uint64_t{1} << 52) - 1;
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  int exponent = static_cast<int>(bits >> 52) - 1022;
  bits = (bits & kMantissaMask) | (uint64_t{1022} << 52);
  double m;
  std::memcpy(&m, &bits, sizeof(m));  // x = m * 2^exponent, m in [0.5, 1).
  // Branch-free: the comparison is a coin flip no predictor can learn.
  const bool below = m < kSqrtHalf;
  m = below ? m + m : m;
  exponent -= below;
  const double z = (m - 1.0) / (m + 1.0);
  const double w = z * z;
  const double w2 = w * w;
  const double w4 = w2 * w2;
  const double w8 = w4 * w4;
  const double series =
      ((1.0 + w * (1.0 / 3)) + w2 * (1.0 / 5 + w * (1.0 / 7))) +
      w4 * ((1.0 / 9 + w * (1.0 / 11)) + w2 * (1.0 / 13 + w * (1.0 / 15))) +
      w8 * ((1.0 / 17 + w * (1.0 / 19)) + w2 * (1.0 / 21));
  return exponent * kLn2 + 2.0 * z * series;
}

// Standard normals by Marsaglia's polar form of Box-Muller, which needs only
// a log and a square root (no sine or cosine, whose last bits vary between C
// libraries). Each accepted point (x, y) yields the pair x*f, y*f.
//
// Normals are made in batches: first the accepted points (a cheap loop whose
// rejection branch is unpredictable), then the log/divide/sqrt for all of
// them (independent iterations the CPU overlaps). That gives exactly the
// same sequence as one pair at a time, about a fifth faster.
class UnitNormal {
 public:
  double operator()(SplitMix64& rng) {
    if (next_ == 2 * kPairs) Refill(rng);
    return normals_[next_++];
  }

 private:
  static constexpr int kPairs = 64;

  void Refill(SplitMix64& rng) {
    for (int i = 0; i < kPairs; ++i) {
      double x, y, s;
      do {
        x = 2.0 * Uniform01(rng) - 1.0;
        y = 2.0 * Uniform01(rng) - 1.0;
        s = x * x + y * y;
      } while (s >= 1.0 || s == 0.0);
      normals_[2 * i] = x;
      normals_[2 * i + 1] = y;
      radius2_[i] = s;
    }
    for (int i = 0; i < kPairs; ++i) {
      const double factor = std::sqrt(-2.0 * Log(radius2_[i]) / radius2_[i]);
      normals_[2 * i] *= factor;
      normals_[2 * i + 1] *= factor;
    }
    next_ = 0;
  }

  double normals_[2 * kPairs] = {};
  double radius2_[kPairs] = {};
  int next_ = 2 * kPairs;
};

// ---------------------------------------------------------------------------
// Samplers: small value types with an inline operator(), so the fill loop
// compiles to straight-line code with no indirect calls.

// Computes in double and redraws the rare value that rounds up to `hi` when
// stored as T (float32 has far fewer values than the double draw).
template <typename T>
class UniformRealSampler {
 public:
  // The bounds are first rounded to T, as TF casts them to the dtype.
  UniformRealSampler(double lo, double hi)
      : lo_(static_cast<T>(lo)),
        width_(static_cast<T>(hi) - lo_),
        hi_(static_cast<T>(hi)) {}
  T operator()(SplitMix64& rng) {
    T value;
    do {
      value = static_cast<T>(lo_ + width_ * Uniform01(rng));
    } while (!(value < hi_));
    return value;
  }

 private:
  double lo_;
  double width_;
  T hi_;
};

// Unbiased integers in [lo, hi): rejects the draws below 2^64 mod range,
// leaving a whole number of copies of the range before taking the remainder.
template <typename T>
class UniformIntSampler {
 public:
  UniformIntSampler(double lo, double hi)
      : lo_(static_cast<uint64_t>(static_cast<int64_t>(lo))),
        range_(static_cast<uint64_t>(static_cast<int64_t>(hi)) - lo_),
        threshold_((0 - range_) % range_) {}
  T operator()(SplitMix64& rng) {
    uint64_t bits;
    do {
      bits = rng.Next();
    } while (bits < threshold_);
    // Two's complement wrap-around: lo + offset always lands in [lo, hi).
    return static_cast<T>(static_cast<int64_t>(lo_ + bits % range_));
  }

 private:
  uint64_t lo_;
  uint64_t range_;
  uint64_t threshold_;
};

template <typename T>
class NormalSampler {
 public:
  NormalSampler(double mean, double stddev) : mean_(mean), stddev_(stddev) {}
  T operator()(SplitMix64& rng) {
    return static_cast<T>(mean_ + stddev_ * unit_(rng));
  }

 private:
  double mean_;
  double stddev_;
  UnitNormal unit_;
};

// TF's truncated_normal: redraws every unit sample with |z| >= 2.
template <typename T>
class TruncatedNormalSampler {
 public:
  TruncatedNormalSampler(double mean, double stddev)
      : mean_(mean), stddev_(stddev) {}
  T operator()(SplitMix64& rng) {
    double z;
    do {
      z = unit_(rng);
    } while (!(std::fabs(z) < kTruncationBound));
    return static_cast<T>(mean_ + stddev_ * z);
  }

 private:
  double mean_;
  double stddev_;
  UnitNormal unit_;
};

// ---------------------------------------------------------------------------
// Typed fills. Bool is stored as uint8_t 0/1.

template <typename T>
inline void StoreLittleEndian(char* dst, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
#ifdef ABSL_IS_BIG_ENDIAN
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  std::reverse(bytes, bytes + sizeof(T));
  std::memcpy(dst, bytes, sizeof(T));
#else
  std::memcpy(dst, &value, sizeof(T));
#endif
}

// Validation guarantees `value` fits T.
template <typename T>
T ToElement(double value) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return value != 0.0 ? 1 : 0;
  } else {
    return static_cast<T>(value);
  }
}

template <typename T>
void FillValue(T value, int64_t count, char* out) {
  for (int64_t i = 0; i < count; ++i) {
    StoreLittleEndian(out + i * sizeof(T), value);
  }
}

template <typename T>
void CopyValues(const std::vector<double>& values, int64_t count, char* out) {
  const int64_t n = std::min<int64_t>(count, values.size());
  for (int64_t i = 0; i < n; ++i) {
    StoreLittleEndian(out + i * sizeof(T), ToElement<T>(values[i]));
  }
  FillValue(T{0}, count - n, out + n * sizeof(T));
}

// Large variables are filled by several threads. Blocks are independent, so
// the values do not depend on how many; below this many blocks per thread,
// starting a thread costs more than it saves.
constexpr int64_t kMinBlocksPerThread = 8;
constexpr int64_t kMaxFillThreads = 16;

int64_t FillThreads(int64_t blocks) {
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<int64_t>(
      1, std::min({cores, kMaxFillThreads, blocks / kMinBlocksPerThread}));
}

// Calls fill(first, last) on disjoint block ranges covering [0, blocks). A
// thread that cannot be started has its share done by the caller instead.
template <typename Fn>
void ForEachBlockRange(int64_t blocks, const Fn& fill) {
  const int64_t threads = FillThreads(blocks);
  std::vector<std::thread> workers;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t first = blocks * t / threads;
    const int64_t last = blocks * (t + 1) / threads;
    try {
      workers.emplace_back(fill, first, last);
    } catch (const std::system_error&) {
      fill(first, last);
    }
  }
  fill(0, blocks / threads);
  for (std::thread& worker : workers) worker.join();
}

// Each block gets a fresh copy of `prototype`, so no state (such as a batch
// of normals) leaks from one block into the next.
template <typename T, typename Sampler>
void FillRandom(const Sampler& prototype, uint64_t key, int64_t count,
                char* out) {
  const auto fill = [&prototype, key, count, out](int64_t first_block,
                                                  int64_t last_block) {
    for (int64_t block = first_block; block < last_block; ++block) {
      const int64_t begin = block * kBlockElements;
      const int64_t end = std::min(count, begin + kBlockElements);
      SplitMix64 rng = BlockStream(key, block);
      Sampler sampler = prototype;
      for (int64_t i = begin; i < end; ++i) {
        StoreLittleEndian(out + i * sizeof(T), sampler(rng));
      }
    }
  };
  ForEachBlockRange((count + kBlockElements - 1) / kBlockElements, fill);
}

template <typename T>
void FillRandomPlan(const FillPlan& plan, uint64_t key, int64_t count,
                    char* out) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (plan.op) {
      case FillOp::kUniform:
        return FillRandom<T>(UniformRealSampler<T>(plan.lo, plan.hi), key,
                             count, out);
      case FillOp::kNormal:
        return FillRandom<T>(NormalSampler<T>(plan.mean, plan.stddev), key,
                             count, out);
      case FillOp::kTruncatedNormal:
        return FillRandom<T>(TruncatedNormalSampler<T>(plan.mean, plan.stddev),
                             key, count, out);
      default:
        break;
    }
  } else if constexpr (std::is_same_v<T, int32_t> ||
                       std::is_same_v<T, int64_t>) {
    if (plan.op == FillOp::kUniform && plan.lo < plan.hi) {
      return FillRandom<T>(UniformIntSampler<T>(plan.lo, plan.hi), key, count,
                           out);
    }
  }
  // Validation rejects every other combination; zeros keep `out` defined.
  FillValue(T{0}, count, out);
}

template <typename T>
void FillTyped(const FillPlan& plan, const InitializerSpec& spec, int64_t count,
               char* out) {
  switch (plan.op) {
    case FillOp::kValue:
      return FillValue(ToElement<T>(plan.value), count, out);
    case FillOp::kCopyValues:
      return CopyValues<T>(spec.values, count, out);
    default:
      return FillRandomPlan<T>(plan, StreamKey(spec.seed), count, out);
  }
}

}  // namespace

const char* InitializerName(InitializerKind kind) {
  switch (kind) {
    case InitializerKind::kDefault:
      return "default";
    case InitializerKind::kZeros:
      return "zeros";
    case InitializerKind::kOnes:
      return "ones";
    case InitializerKind::kConstant:
      return "constant";
    case InitializerKind::kRandomUniform:
      return "random_uniform";
    case InitializerKind::kRandomNormal:
      return "random_normal";
    case InitializerKind::kTruncatedNormal:
      return "truncated_normal";
    case InitializerKind::kGlorotUniform:
      return "glorot_uniform";
    case InitializerKind::kGlorotNormal:
      return "glorot_normal";
    case InitializerKind::kVarianceScaling:
      return "variance_scaling";
  }
  return "unknown";
}

std::optional<TensorShape> ImpliedShape(const InitializerSpec& spec) {
  if (spec.kind != InitializerKind::kConstant || IsBroadcast(spec)) {
    return std::nullopt;
  }
  return ListShape(spec);
}

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
  switch (dtype) {
    case DType::kFloat:
      return FillTyped<float>(plan, spec, n, out.data());
    case DType::kDouble:
      return FillTyped<double>(plan, spec, n, out.data());
    case DType::kInt32:
      return FillTyped<int32_t>(plan, spec, n, out.data());
    case DType::kInt64:
      return FillTyped<int64_t>(plan, spec, n, out.data());
    case DType::kBool:
      return FillTyped<uint8_t>(plan, spec, n, out.data());
  }
}

}  // namespace paramserver
