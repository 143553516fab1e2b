#include "server/initializer_fill.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "absl/random/random.h"
#include "common/mix64.h"
#include "common/parallel_for.h"

// Seeded values must be bit-identical on every platform. Every floating point
// operation below is one IEEE 754 rounds exactly (+, -, *, /, sqrt,
// conversions) or exact bit manipulation; no libm function is used. The BUILD
// rule adds -ffp-contract=off so that no compiler fuses a * b + c into an FMA,
// which rounds once instead of twice.

namespace paramserver {
namespace {

// ---------------------------------------------------------------------------
// Random numbers. SplitMix64 (Steele, Lea & Flood, 2014) is fully specified
// by these few lines, unlike std::normal_distribution and friends, whose
// algorithms each standard library chooses; it passes BigCrush.

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

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
    if (next_ == size_) Refill(rng);
    return normals_[next_++];
  }

  // That about `n` more normals will be drawn: batches stop there, so a
  // short fill (one row of a dynamic table) computes no normals it throws
  // away. Draws past `n` (truncated_normal's redraws) come in small batches.
  // The values drawn do not depend on it.
  void Expect(int64_t n) { expected_pairs_ = (n + 1) / 2; }

 private:
  static constexpr int kPairs = 64;

  void Refill(SplitMix64& rng) {
    const int pairs = static_cast<int>(
        std::clamp<int64_t>(expected_pairs_, kMinPairs, kPairs));
    expected_pairs_ = std::max<int64_t>(0, expected_pairs_ - pairs);
    for (int i = 0; i < pairs; ++i) {
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
    for (int i = 0; i < pairs; ++i) {
      const double factor = std::sqrt(-2.0 * Log(radius2_[i]) / radius2_[i]);
      normals_[2 * i] *= factor;
      normals_[2 * i + 1] *= factor;
    }
    next_ = 0;
    size_ = 2 * pairs;
  }

  static constexpr int kMinPairs = 4;
  double normals_[2 * kPairs] = {};
  double radius2_[kPairs] = {};
  int next_ = 0;
  int size_ = 0;  // Normals in the current batch.
  int64_t expected_pairs_ = kPairs;
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
  void Expect(int64_t) {}

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
  UniformIntSampler(int64_t lo, int64_t hi)
      : lo_(static_cast<uint64_t>(lo)),
        range_(static_cast<uint64_t>(hi) - lo_),
        threshold_((0 - range_) % range_) {}
  T operator()(SplitMix64& rng) {
    uint64_t bits;
    do {
      bits = rng.Next();
    } while (bits < threshold_);
    // Two's complement wrap-around: lo + offset always lands in [lo, hi).
    return static_cast<T>(static_cast<int64_t>(lo_ + bits % range_));
  }
  void Expect(int64_t) {}

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
  void Expect(int64_t n) { unit_.Expect(n); }

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
  void Expect(int64_t n) { unit_.Expect(n); }

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

// Validation guarantees `value` fits T. Integers convert exactly to integer
// types and round to nearest to floating ones.
template <typename T>
T ToElement(Number value) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return value.ToDouble() != 0.0 ? 1 : 0;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(value.ToInt64());
  } else {
    return value.is_integer() ? static_cast<T>(value.integer())
                              : static_cast<T>(value.ToDouble());
  }
}

template <typename T>
void FillValue(T value, int64_t count, char* out) {
  for (int64_t i = 0; i < count; ++i) {
    StoreLittleEndian(out + i * sizeof(T), value);
  }
}

// TF's constant fill: the values in order, then the last one repeated.
template <typename T>
void CopyValues(const std::vector<Number>& values, int64_t count, char* out) {
  const int64_t n = std::min<int64_t>(count, values.size());
  for (int64_t i = 0; i < n; ++i) {
    StoreLittleEndian(out + i * sizeof(T), ToElement<T>(values[i]));
  }
  const T last = values.empty() ? T{0} : ToElement<T>(values.back());
  FillValue(last, count - n, out + n * sizeof(T));
}

// Large variables are filled by several threads (common/parallel_for.h).
// Blocks are independent, so the values do not depend on how many; below
// this many blocks per thread, starting a thread costs more than it saves.
constexpr int64_t kMinBlocksPerThread = 8;

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
      sampler.Expect(end - begin);
      for (int64_t i = begin; i < end; ++i) {
        StoreLittleEndian(out + i * sizeof(T), sampler(rng));
      }
    }
  };
  ParallelFor((count + kBlockElements - 1) / kBlockElements,
              kMinBlocksPerThread, fill);
}

template <typename T>
void FillRandomPlan(const FillPlan& plan, uint64_t key, int64_t count,
                    char* out) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (plan.op) {
      case FillOp::kUniform:
        return FillRandom<T>(
            UniformRealSampler<T>(plan.lo.ToDouble(), plan.hi.ToDouble()), key,
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
    const int64_t lo = plan.lo.ToInt64();
    const int64_t hi = plan.hi.ToInt64();
    if (plan.op == FillOp::kUniform && lo < hi) {
      return FillRandom<T>(UniformIntSampler<T>(lo, hi), key, count, out);
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

void FillElements(const FillPlan& plan, const InitializerSpec& spec,
                  DType dtype, int64_t count, char* out) {
  switch (dtype) {
    case DType::kFloat:
      return FillTyped<float>(plan, spec, count, out);
    case DType::kDouble:
      return FillTyped<double>(plan, spec, count, out);
    case DType::kInt32:
      return FillTyped<int32_t>(plan, spec, count, out);
    case DType::kInt64:
      return FillTyped<int64_t>(plan, spec, count, out);
    case DType::kBool:
      return FillTyped<uint8_t>(plan, spec, count, out);
  }
}

}  // namespace paramserver
