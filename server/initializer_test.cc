#include "server/initializer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/dtype.h"
#include "common/tensor_shape.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr char kName[] = "foo/v";
// scipy.stats.truncnorm.std(a=-2, b=2).
constexpr double kTruncatedUnitStddev = 0.87962566103423978;

InitializerSpec Spec(InitializerKind kind, std::optional<int64_t> seed = 42) {
  InitializerSpec spec;
  spec.kind = kind;
  spec.seed = seed;
  return spec;
}

// The raw bytes RunInitializer writes, after checking the spec is valid.
std::vector<char> RunBytes(const InitializerSpec& spec, DType dtype,
                           const TensorShape& shape) {
  const absl::Status status = ValidateInitializer(spec, dtype, shape, kName);
  EXPECT_TRUE(status.ok()) << status;
  const absl::StatusOr<int64_t> count = NumElements(shape);
  EXPECT_TRUE(count.ok()) << count.status();
  std::vector<char> bytes(*count * DTypeSize(dtype));
  RunInitializer(spec, dtype, shape, absl::MakeSpan(bytes));
  return bytes;
}

// The values as T (uint8_t for bool). The tests run on little-endian hosts.
template <typename T>
std::vector<T> Values(const InitializerSpec& spec, DType dtype,
                      const TensorShape& shape) {
  const std::vector<char> bytes = RunBytes(spec, dtype, shape);
  EXPECT_EQ(bytes.size() % sizeof(T), 0u);
  std::vector<T> values(bytes.size() / sizeof(T));
  // An empty vector's data() may be null, which memcpy may not be given.
  if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::string ErrorOf(const InitializerSpec& spec, DType dtype,
                    const TensorShape& shape) {
  const absl::Status status = ValidateInitializer(spec, dtype, shape, kName);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

struct Moments {
  double mean = 0;
  double stddev = 0;
  double min = 0;
  double max = 0;
};

template <typename T>
Moments ComputeMoments(const std::vector<T>& values) {
  Moments m;
  m.min = m.max = values.at(0);
  double sum = 0;
  for (T v : values) {
    sum += v;
    m.min = std::min<double>(m.min, v);
    m.max = std::max<double>(m.max, v);
  }
  m.mean = sum / values.size();
  double squares = 0;
  for (T v : values) squares += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(squares / values.size());
  return m;
}

// The fraction of values within k stddevs of the mean.
template <typename T>
double FractionWithin(const std::vector<T>& values, double mean, double width) {
  int64_t inside = 0;
  for (T v : values) inside += std::fabs(v - mean) < width;
  return static_cast<double>(inside) / values.size();
}

// ---------------------------------------------------------------------------
// Names, fans and implied shapes.

TEST(InitializerNameTest, UsesTensorFlowNames) {
  EXPECT_STREQ(InitializerName(InitializerKind::kDefault), "default");
  EXPECT_STREQ(InitializerName(InitializerKind::kZeros), "zeros");
  EXPECT_STREQ(InitializerName(InitializerKind::kOnes), "ones");
  EXPECT_STREQ(InitializerName(InitializerKind::kConstant), "constant");
  EXPECT_STREQ(InitializerName(InitializerKind::kRandomUniform),
               "random_uniform");
  EXPECT_STREQ(InitializerName(InitializerKind::kRandomNormal),
               "random_normal");
  EXPECT_STREQ(InitializerName(InitializerKind::kTruncatedNormal),
               "truncated_normal");
  EXPECT_STREQ(InitializerName(InitializerKind::kGlorotUniform),
               "glorot_uniform");
  EXPECT_STREQ(InitializerName(InitializerKind::kGlorotNormal),
               "glorot_normal");
  EXPECT_STREQ(InitializerName(InitializerKind::kVarianceScaling),
               "variance_scaling");
}

TEST(ComputeFansTest, ScalarHasFansOfOne) {
  const Fans fans = ComputeFans({});
  EXPECT_EQ(fans.fan_in, 1.0);
  EXPECT_EQ(fans.fan_out, 1.0);
}

TEST(ComputeFansTest, VectorUsesItsLengthForBoth) {
  const Fans fans = ComputeFans({5});
  EXPECT_EQ(fans.fan_in, 5.0);
  EXPECT_EQ(fans.fan_out, 5.0);
}

TEST(ComputeFansTest, MatrixIsInputsByOutputs) {
  const Fans fans = ComputeFans({3, 4});
  EXPECT_EQ(fans.fan_in, 3.0);
  EXPECT_EQ(fans.fan_out, 4.0);
}

TEST(ComputeFansTest, ConvKernelMultipliesByReceptiveField) {
  // HWIO 5x5 kernel, 32 -> 64 channels: field 25, 25*32 in, 25*64 out.
  const Fans fans = ComputeFans({5, 5, 32, 64});
  EXPECT_EQ(fans.fan_in, 800.0);
  EXPECT_EQ(fans.fan_out, 1600.0);
}

TEST(ComputeFansTest, Rank3AndRank5) {
  const Fans conv1d = ComputeFans({3, 4, 5});  // Field 3.
  EXPECT_EQ(conv1d.fan_in, 12.0);
  EXPECT_EQ(conv1d.fan_out, 15.0);
  const Fans conv3d = ComputeFans({2, 3, 4, 6, 7});  // Field 24.
  EXPECT_EQ(conv3d.fan_in, 144.0);
  EXPECT_EQ(conv3d.fan_out, 168.0);
}

TEST(ImpliedShapeTest, ListWithoutValueShapeIsOneDimensional) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3};
  EXPECT_EQ(ImpliedShape(spec), TensorShape({3}));
}

TEST(ImpliedShapeTest, ListWithValueShapeUsesIt) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3, 4, 5, 6};
  spec.value_shape = TensorShape{2, 3};
  EXPECT_EQ(ImpliedShape(spec), TensorShape({2, 3}));
}

TEST(ImpliedShapeTest, NoValuesImplyNothing) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  EXPECT_EQ(ImpliedShape(spec), std::nullopt);  // TF's default value 0.
}

// TF's get_variable("v", initializer=7) makes a scalar.
TEST(ImpliedShapeTest, SingleValueIsAScalar) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {7};
  EXPECT_EQ(ImpliedShape(spec), TensorShape{});
  spec.value_shape = TensorShape{};
  EXPECT_EQ(ImpliedShape(spec), TensorShape{});
}

TEST(ImpliedShapeTest, OneElementWithNonScalarShapeIsAList) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {7};
  spec.value_shape = TensorShape{1, 1};
  EXPECT_EQ(ImpliedShape(spec), TensorShape({1, 1}));
}

TEST(ImpliedShapeTest, OtherKindsImplyNothing) {
  InitializerSpec spec = Spec(InitializerKind::kRandomNormal);
  spec.values = {1, 2, 3};
  spec.value_shape = TensorShape{3};
  EXPECT_EQ(ImpliedShape(spec), std::nullopt);
  spec.kind = InitializerKind::kZeros;
  EXPECT_EQ(ImpliedShape(spec), std::nullopt);
}

// ---------------------------------------------------------------------------
// zeros, ones, default.

TEST(ZerosOnesTest, EveryDType) {
  const InitializerSpec zeros = Spec(InitializerKind::kZeros);
  const InitializerSpec ones = Spec(InitializerKind::kOnes);
  const TensorShape shape = {2, 3};
  EXPECT_EQ(Values<float>(zeros, DType::kFloat, shape),
            std::vector<float>(6, 0));
  EXPECT_EQ(Values<float>(ones, DType::kFloat, shape),
            std::vector<float>(6, 1));
  EXPECT_EQ(Values<double>(ones, DType::kDouble, shape),
            std::vector<double>(6, 1));
  EXPECT_EQ(Values<int32_t>(ones, DType::kInt32, shape),
            std::vector<int32_t>(6, 1));
  EXPECT_EQ(Values<int64_t>(zeros, DType::kInt64, shape),
            std::vector<int64_t>(6, 0));
  EXPECT_EQ(Values<uint8_t>(ones, DType::kBool, shape),
            std::vector<uint8_t>(6, 1));
  EXPECT_EQ(Values<uint8_t>(zeros, DType::kBool, shape),
            std::vector<uint8_t>(6, 0));
}

TEST(DefaultTest, FloatingIsGlorotUniform) {
  const TensorShape shape = {30, 20};
  const InitializerSpec deflt = Spec(InitializerKind::kDefault, 7);
  const InitializerSpec glorot = Spec(InitializerKind::kGlorotUniform, 7);
  EXPECT_EQ(RunBytes(deflt, DType::kFloat, shape),
            RunBytes(glorot, DType::kFloat, shape));
  EXPECT_EQ(RunBytes(deflt, DType::kDouble, shape),
            RunBytes(glorot, DType::kDouble, shape));
  const Moments m = ComputeMoments(Values<float>(deflt, DType::kFloat, shape));
  EXPECT_LT(m.max, std::sqrt(6.0 / 50));
  EXPECT_GT(m.stddev, 0.1);  // Not zeros.
}

TEST(DefaultTest, IntegersAndBoolAreZeros) {
  const InitializerSpec spec = Spec(InitializerKind::kDefault);
  EXPECT_EQ(Values<int32_t>(spec, DType::kInt32, {4}), std::vector<int32_t>(4));
  EXPECT_EQ(Values<int64_t>(spec, DType::kInt64, {4}), std::vector<int64_t>(4));
  EXPECT_EQ(Values<uint8_t>(spec, DType::kBool, {4}), std::vector<uint8_t>(4));
}

// ---------------------------------------------------------------------------
// constant.

TEST(ConstantTest, BroadcastsSingleValue) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {2.5};
  EXPECT_EQ(Values<float>(spec, DType::kFloat, {2, 3}),
            std::vector<float>(6, 2.5f));
  EXPECT_EQ(Values<double>(spec, DType::kDouble, {}), std::vector<double>{2.5});
  spec.values = {-7};
  EXPECT_EQ(Values<int64_t>(spec, DType::kInt64, {3}),
            std::vector<int64_t>(3, -7));
  spec.values = {1};
  EXPECT_EQ(Values<uint8_t>(spec, DType::kBool, {5}),
            std::vector<uint8_t>(5, 1));
}

TEST(ConstantTest, ScalarValueShapeBroadcasts) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {3};
  spec.value_shape = TensorShape{};
  EXPECT_EQ(Values<int32_t>(spec, DType::kInt32, {2, 2}),
            std::vector<int32_t>(4, 3));
}

TEST(ConstantTest, NoValuesIsTensorFlowsDefaultZero) {
  const InitializerSpec spec = Spec(InitializerKind::kConstant);
  EXPECT_EQ(Values<double>(spec, DType::kDouble, {3}),
            std::vector<double>(3, 0));
}

TEST(ConstantTest, ListIsCopiedRowMajor) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3, 4, 5, 6};
  spec.value_shape = TensorShape{2, 3};
  EXPECT_EQ(Values<double>(spec, DType::kDouble, {2, 3}),
            std::vector<double>({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Values<int32_t>(spec, DType::kInt32, {2, 3}),
            std::vector<int32_t>({1, 2, 3, 4, 5, 6}));
  spec.values = {0.1, -0.25};
  spec.value_shape.reset();
  EXPECT_EQ(Values<float>(spec, DType::kFloat, {2}),
            std::vector<float>({0.1f, -0.25f}));
}

// TF 1.15's constant_initializer([1, ..., 8]): fills row-major, repeats the
// last value, and refuses more values than the shape holds.
TEST(ConstantTest, ListFillsLikeTensorFlow) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(Values<float>(spec, DType::kFloat, {2, 4}),
            std::vector<float>({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Values<int32_t>(spec, DType::kInt32, {3, 4}),
            std::vector<int32_t>({1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8}));
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {2, 3}),
            "Too many elements provided. Needed at most 6, but received 8 "
            "(constant initializer of variable foo/v).");
  // A shape without elements takes any value, as in TF.
  EXPECT_TRUE(Values<float>(spec, DType::kFloat, {0, 3}).empty());
}

// value_shape is TF's verify_shape=True: the shapes must match exactly.
TEST(ConstantTest, ValueShapeMustMatchExactlyNotJustInSize) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3, 4};
  spec.value_shape = TensorShape{4};
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {2, 2}),
            "Constant initializer for variable foo/v has shape (4,) but the "
            "variable's shape is (2, 2).");
  spec.values = {1, 2, 3};
  spec.value_shape = TensorShape{3};
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {4}),
              HasSubstr("has shape (3,) but the variable's shape is (4,)"));
  spec.values = {1, 2, 3, 4};
  spec.value_shape = TensorShape{4, 1};
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {2, 2}),
              HasSubstr("has shape (4, 1) but"));
  // A one-element list is a tensor of shape (1,), not a broadcast scalar.
  spec.values = {1};
  spec.value_shape = TensorShape{1};
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}),
              HasSubstr("has shape (1,) but the variable's shape is (3,)"));
  EXPECT_EQ(Values<float>(spec, DType::kFloat, {1}), std::vector<float>{1});
}

TEST(ConstantTest, ValueCountMustMatchValueShape) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2, 3};
  spec.value_shape = TensorShape{2, 2};
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {2, 2}),
            "Constant initializer for variable foo/v has 3 values but its "
            "value_shape (2, 2) holds 4.");
  spec.values.clear();
  spec.value_shape = TensorShape{};
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {}),
              HasSubstr("has 0 values but its value_shape () holds 1"));
}

TEST(ConstantTest, RejectsNegativeValueShape) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 2};
  spec.value_shape = TensorShape{-2};
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {2}),
              HasSubstr("invalid value_shape"));
}

TEST(ConstantTest, Int64ValuesAreExact) {
  constexpr int64_t kTwoTo53 = int64_t{1} << 53;
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {kTwoTo53 + 1, std::numeric_limits<int64_t>::max(),
                 std::numeric_limits<int64_t>::min()};
  EXPECT_EQ(
      Values<int64_t>(spec, DType::kInt64, {4}),
      std::vector<int64_t>({kTwoTo53 + 1, std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::min()}));
  EXPECT_THAT(ErrorOf(spec, DType::kInt32, {3}),
              HasSubstr("value 9007199254740993 at index 0, which is not a "
                        "valid int32"));
  // Into a floating variable an integer rounds, as numpy converts it.
  spec.values = {kTwoTo53 + 1};
  EXPECT_EQ(Values<double>(spec, DType::kDouble, {1}),
            std::vector<double>{0x1p53});
}

TEST(ConstantTest, IntegersMustBeIntegralAndInRange) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 1.5};
  EXPECT_EQ(ErrorOf(spec, DType::kInt32, {2}),
            "Constant initializer for variable foo/v has value 1.5 at index 1, "
            "which is not a valid int32.");
  spec.values = {2147483648.0};
  EXPECT_THAT(ErrorOf(spec, DType::kInt32, {}),
              HasSubstr("value 2147483648 at index 0"));
  spec.values = {-2147483649.0};
  EXPECT_THAT(ErrorOf(spec, DType::kInt32, {}), HasSubstr("not a valid int32"));
  spec.values = {std::nan("")};
  EXPECT_THAT(ErrorOf(spec, DType::kInt64, {}), HasSubstr("not a valid int64"));
  spec.values = {9.3e18};
  EXPECT_THAT(ErrorOf(spec, DType::kInt64, {}), HasSubstr("not a valid int64"));

  spec.values = {2147483647.0, -2147483648.0};
  EXPECT_EQ(Values<int32_t>(spec, DType::kInt32, {2}),
            std::vector<int32_t>({std::numeric_limits<int32_t>::max(),
                                  std::numeric_limits<int32_t>::min()}));
  spec.values = {0x1p62, -0x1p63};
  EXPECT_EQ(Values<int64_t>(spec, DType::kInt64, {2}),
            std::vector<int64_t>(
                {int64_t{1} << 62, std::numeric_limits<int64_t>::min()}));
}

TEST(ConstantTest, BoolValuesMustBeZeroOrOne) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {0, 1, 1, 0};
  EXPECT_EQ(Values<uint8_t>(spec, DType::kBool, {4}),
            std::vector<uint8_t>({0, 1, 1, 0}));
  spec.values = {0, 2};
  EXPECT_EQ(ErrorOf(spec, DType::kBool, {2}),
            "Constant initializer for variable foo/v has value 2 at index 1, "
            "which is not a valid bool (must be 0 or 1).");
  spec.values = {0.5};
  EXPECT_THAT(ErrorOf(spec, DType::kBool, {3}), HasSubstr("value 0.5"));
}

TEST(ConstantTest, FloatValuesMustFitFloat32ButMayBeNanOrInf) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1e39};
  EXPECT_THAT(
      ErrorOf(spec, DType::kFloat, {}),
      HasSubstr("value 1e+39 at index 0, which is not a valid float32"));
  EXPECT_EQ(Values<double>(spec, DType::kDouble, {}),
            std::vector<double>{1e39});
  spec.values = {std::numeric_limits<double>::quiet_NaN(),
                 -std::numeric_limits<double>::infinity()};
  const std::vector<float> values = Values<float>(spec, DType::kFloat, {2});
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_EQ(values[1], -std::numeric_limits<float>::infinity());
}

// ---------------------------------------------------------------------------
// random_uniform.

TEST(RandomUniformTest, DefaultsAreZeroToOne) {
  const std::vector<double> values = Values<double>(
      Spec(InitializerKind::kRandomUniform), DType::kDouble, {1 << 20});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, 0.0);
  EXPECT_LT(m.max, 1.0);
  EXPECT_LT(m.min, 1e-4);
  EXPECT_GT(m.max, 1 - 1e-4);
  EXPECT_NEAR(m.mean, 0.5, 0.002);
  EXPECT_NEAR(m.stddev, std::sqrt(1.0 / 12), 0.002);
}

TEST(RandomUniformTest, Float32CustomRange) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = -3;
  spec.maxval = 5;
  const Moments m =
      ComputeMoments(Values<float>(spec, DType::kFloat, {1 << 20}));
  EXPECT_GE(m.min, -3.0);
  EXPECT_LT(m.max, 5.0);
  EXPECT_NEAR(m.mean, 1.0, 0.02);
  EXPECT_NEAR(m.stddev, 8 / std::sqrt(12.0), 0.01);
}

TEST(RandomUniformTest, Float32NeverRoundsUpToMaxval) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  // Only one float32 lies in [1 - 2^-24, 1): half the float64 draws would
  // round up to maxval.
  spec.minval = 1 - 0x1p-24;
  spec.maxval = 1;
  for (float v : Values<float>(spec, DType::kFloat, {100000})) {
    ASSERT_EQ(v, 1 - 0x1p-24f);
  }
  // Four float32 values in [1 - 2^-22, 1); all appear, 1 never does.
  spec.minval = 1 - 0x1p-22;
  std::map<float, int> counts;
  for (float v : Values<float>(spec, DType::kFloat, {100000})) ++counts[v];
  EXPECT_EQ(counts.size(), 4u);
  EXPECT_EQ(counts.count(1.0f), 0u);
  EXPECT_EQ(counts.begin()->first, 1 - 0x1p-22f);
}

TEST(RandomUniformTest, Int32CoversRangeEvenly) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = -3;
  spec.maxval = 4;
  std::map<int32_t, int> counts;
  for (int32_t v : Values<int32_t>(spec, DType::kInt32, {70000})) ++counts[v];
  ASSERT_EQ(counts.size(), 7u);
  EXPECT_EQ(counts.begin()->first, -3);
  EXPECT_EQ(counts.rbegin()->first, 3);
  for (const auto& [value, count] : counts) {
    EXPECT_NEAR(count, 10000, 500) << value;
  }
}

TEST(RandomUniformTest, Int64HandlesWideRanges) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = -0x1p62;
  spec.maxval = 0x1p62;
  const std::vector<int64_t> values =
      Values<int64_t>(spec, DType::kInt64, {10000});
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  EXPECT_GE(*lo, -(int64_t{1} << 62));
  EXPECT_LT(*hi, int64_t{1} << 62);
  EXPECT_LT(*lo, -(int64_t{1} << 61));
  EXPECT_GT(*hi, int64_t{1} << 61);

  // Nearly all of int64: the range does not fit int64 arithmetic.
  spec.minval = -0x1p63;
  spec.maxval = 0x1p63 - 1024;  // The largest double below 2^63.
  const std::vector<int64_t> wide =
      Values<int64_t>(spec, DType::kInt64, {10000});
  const auto [wide_lo, wide_hi] = std::minmax_element(wide.begin(), wide.end());
  EXPECT_LT(*wide_hi, std::numeric_limits<int64_t>::max() - 1022);
  EXPECT_LT(*wide_lo, std::numeric_limits<int64_t>::min() / 2);
  EXPECT_GT(*wide_hi, std::numeric_limits<int64_t>::max() / 2);
}

// TF's random_ops.random_uniform: maxval defaults to 1 for floats only.
TEST(RandomUniformTest, IntegersNeedMaxval) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  EXPECT_EQ(ErrorOf(spec, DType::kInt32, {100}),
            "Must specify maxval for integer dtype tf.int32 (random_uniform "
            "initializer of variable foo/v).");
  spec.minval = -5;
  EXPECT_THAT(ErrorOf(spec, DType::kInt64, {100}),
              HasSubstr("Must specify maxval for integer dtype tf.int64"));
  spec.maxval = 5;
  const std::vector<int64_t> values =
      Values<int64_t>(spec, DType::kInt64, {100});
  EXPECT_NE(std::count(values.begin(), values.end(), 0), 100);
}

// Integer bounds stay exact beyond 2^53: [2^53 + 1, 2^53 + 3) gives exactly
// the two integers 2^53 + 1 and 2^53 + 2.
TEST(RandomUniformTest, Int64BoundsAreExact) {
  constexpr int64_t kTwoTo53 = int64_t{1} << 53;
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = kTwoTo53 + 1;
  spec.maxval = kTwoTo53 + 3;
  const std::vector<int64_t> values =
      Values<int64_t>(spec, DType::kInt64, {1000});
  EXPECT_EQ(std::count(values.begin(), values.end(), kTwoTo53 + 1) +
                std::count(values.begin(), values.end(), kTwoTo53 + 2),
            1000);
  EXPECT_GT(std::count(values.begin(), values.end(), kTwoTo53 + 1), 0);
  EXPECT_GT(std::count(values.begin(), values.end(), kTwoTo53 + 2), 0);
}

TEST(RandomUniformTest, RejectsBool) {
  EXPECT_EQ(ErrorOf(Spec(InitializerKind::kRandomUniform), DType::kBool, {3}),
            "Initializer random_uniform for variable foo/v requires a floating "
            "point or integer dtype, got bool.");
}

TEST(RandomUniformTest, RejectsEmptyOrReversedRange) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = 2;
  spec.maxval = 2;
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {3}),
            "Initializer random_uniform for variable foo/v has minval 2 and "
            "maxval 2; it needs minval < maxval in float32.");
  spec.maxval = 1;
  EXPECT_THAT(ErrorOf(spec, DType::kInt32, {3}), HasSubstr("minval < maxval"));
  // Distinct in float64 but the same float32.
  spec.minval = 1;
  spec.maxval = 1 + 1e-12;
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}),
              HasSubstr("minval < maxval in float32"));
  EXPECT_TRUE(ValidateInitializer(spec, DType::kDouble, {3}, kName).ok());
}

TEST(RandomUniformTest, RejectsNonFiniteBounds) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = std::nan("");
  EXPECT_EQ(ErrorOf(spec, DType::kDouble, {3}),
            "Initializer random_uniform for variable foo/v has minval nan, "
            "which is not a finite float64.");
  spec.minval = 0;
  spec.maxval = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ErrorOf(spec, DType::kDouble, {3}), HasSubstr("maxval inf"));
  spec.maxval = 1e39;  // Finite, but not as float32.
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}),
              HasSubstr("maxval 1e+39, which is not a finite float32"));
  spec.minval = -1e308;
  spec.maxval = 1e308;  // maxval - minval overflows.
  EXPECT_THAT(ErrorOf(spec, DType::kDouble, {3}), HasSubstr("too wide"));
}

TEST(RandomUniformTest, IntegerBoundsMustBeIntegralAndFit) {
  InitializerSpec spec = Spec(InitializerKind::kRandomUniform);
  spec.minval = 0.5;
  spec.maxval = 10;
  EXPECT_EQ(ErrorOf(spec, DType::kInt32, {3}),
            "Initializer random_uniform for variable foo/v has minval 0.5, "
            "which is not a valid int32.");
  spec.minval = 0;
  spec.maxval = 0x1p31;
  EXPECT_THAT(ErrorOf(spec, DType::kInt32, {3}),
              HasSubstr("maxval 2147483648, which is not a valid int32"));
  EXPECT_TRUE(ValidateInitializer(spec, DType::kInt64, {3}, kName).ok());
}

// ---------------------------------------------------------------------------
// random_normal and truncated_normal.

TEST(RandomNormalTest, MatchesMeanStddevAndShape) {
  InitializerSpec spec = Spec(InitializerKind::kRandomNormal);
  spec.mean = 3;
  spec.stddev = 2;
  const std::vector<double> values =
      Values<double>(spec, DType::kDouble, {1024, 1024});
  const Moments m = ComputeMoments(values);
  EXPECT_NEAR(m.mean, 3.0, 0.01);
  EXPECT_NEAR(m.stddev, 2.0, 0.01);
  // A normal, not just any distribution with these moments.
  EXPECT_NEAR(FractionWithin(values, 3.0, 2.0), 0.682689, 0.003);
  EXPECT_NEAR(FractionWithin(values, 3.0, 4.0), 0.954500, 0.002);
  EXPECT_NEAR(FractionWithin(values, 3.0, 6.0), 0.997300, 0.0005);
  EXPECT_LT(m.min, 3.0 - 4 * 2.0);  // Untruncated tails.
  EXPECT_GT(m.max, 3.0 + 4 * 2.0);
}

TEST(RandomNormalTest, Float32Defaults) {
  const std::vector<float> values = Values<float>(
      Spec(InitializerKind::kRandomNormal), DType::kFloat, {1 << 20});
  const Moments m = ComputeMoments(values);
  EXPECT_NEAR(m.mean, 0.0, 0.005);
  EXPECT_NEAR(m.stddev, 1.0, 0.005);
}

TEST(RandomNormalTest, ZeroStddevGivesTheMean) {
  InitializerSpec spec = Spec(InitializerKind::kTruncatedNormal);
  spec.mean = -1.5;
  spec.stddev = 0;
  EXPECT_EQ(Values<float>(spec, DType::kFloat, {8}),
            std::vector<float>(8, -1.5f));
}

TEST(TruncatedNormalTest, NeverBeyondTwoStddevs) {
  InitializerSpec spec = Spec(InitializerKind::kTruncatedNormal);
  spec.mean = -1;
  spec.stddev = 0.5;
  const std::vector<double> values =
      Values<double>(spec, DType::kDouble, {1 << 20});
  const Moments m = ComputeMoments(values);
  EXPECT_GT(m.min, -2.0);
  EXPECT_LT(m.max, 0.0);
  EXPECT_LT(m.min, -1.99);  // The cut is at 2 stddevs, not tighter.
  EXPECT_GT(m.max, -0.01);
  EXPECT_NEAR(m.mean, -1.0, 0.002);
  EXPECT_NEAR(m.stddev, 0.5 * kTruncatedUnitStddev, 0.002);
}

TEST(TruncatedNormalTest, Float32Defaults) {
  const std::vector<float> values = Values<float>(
      Spec(InitializerKind::kTruncatedNormal), DType::kFloat, {1 << 20});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, -2.0);
  EXPECT_LE(m.max, 2.0);
  EXPECT_NEAR(m.mean, 0.0, 0.005);
  EXPECT_NEAR(m.stddev, kTruncatedUnitStddev, 0.005);
}

TEST(NormalParamsTest, RejectsNonFiniteParameters) {
  InitializerSpec spec = Spec(InitializerKind::kRandomNormal);
  spec.stddev = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ErrorOf(spec, DType::kDouble, {3}),
              HasSubstr("stddev inf, which is not a finite float64"));
  spec.stddev = 1;
  spec.mean = std::nan("");
  spec.kind = InitializerKind::kTruncatedNormal;
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {3}),
            "Initializer truncated_normal for variable foo/v has mean nan, "
            "which is not a finite float32.");
  spec.mean = 1e39;
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}), HasSubstr("mean 1e+39"));
}

// TF computes mean + stddev * z and checks no sign: -2 draws as 2 does.
TEST(NormalParamsTest, NegativeStddevIsAcceptedAsTensorFlowDoes) {
  for (InitializerKind kind :
       {InitializerKind::kRandomNormal, InitializerKind::kTruncatedNormal}) {
    InitializerSpec spec = Spec(kind);
    spec.mean = 1;
    spec.stddev = -2;
    ASSERT_TRUE(ValidateInitializer(spec, DType::kDouble, {20000}, kName).ok());
    const std::vector<double> values =
        Values<double>(spec, DType::kDouble, {20000});
    const Moments m = ComputeMoments(values);
    EXPECT_NEAR(m.mean, 1.0, 0.05);
    if (kind == InitializerKind::kRandomNormal) {
      EXPECT_NEAR(m.stddev, 2.0, 0.05);
    } else {
      EXPECT_NEAR(m.stddev, 2.0 * kTruncatedUnitStddev, 0.05);
      EXPECT_EQ(FractionWithin(values, 1.0, 4.0 + 1e-9), 1.0);
    }
  }
}

// ---------------------------------------------------------------------------
// glorot_uniform, glorot_normal, variance_scaling.

TEST(GlorotUniformTest, WithinLimitWithVarianceLimitSquaredOverThree) {
  const double limit = std::sqrt(6.0 / (1000 + 1000));
  const std::vector<float> values = Values<float>(
      Spec(InitializerKind::kGlorotUniform), DType::kFloat, {1000, 1000});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, -limit * (1 + 1e-7));
  EXPECT_LT(m.max, limit * (1 + 1e-7));
  EXPECT_LT(m.min, -0.999 * limit);
  EXPECT_GT(m.max, 0.999 * limit);
  EXPECT_NEAR(m.mean, 0.0, 0.001 * limit);
  EXPECT_NEAR(m.stddev * m.stddev, limit * limit / 3, 0.005 * limit * limit);
}

TEST(GlorotUniformTest, ConvKernelUsesReceptiveField) {
  // fan_in 800, fan_out 1600: limit sqrt(6 / 2400) = 0.05.
  const std::vector<double> values = Values<double>(
      Spec(InitializerKind::kGlorotUniform), DType::kDouble, {5, 5, 32, 64});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, -0.05);
  EXPECT_LT(m.max, 0.05);
  EXPECT_GT(m.max, 0.0499);
  EXPECT_NEAR(m.stddev, 0.05 / std::sqrt(3.0), 0.0005);
}

TEST(GlorotNormalTest, TruncatedWithFanAvgVariance) {
  // fan_avg 750: TF divides by 0.8796... so that the cut keeps the variance.
  const double target = std::sqrt(1.0 / 750);
  const double bound = 2 * target / kTruncatedUnitStddev;
  const std::vector<double> values = Values<double>(
      Spec(InitializerKind::kGlorotNormal), DType::kDouble, {1000, 500});
  const Moments m = ComputeMoments(values);
  EXPECT_GT(m.min, -bound);
  EXPECT_LT(m.max, bound);
  EXPECT_GT(m.max, 0.99 * bound);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * target);
  EXPECT_NEAR(m.stddev, target, 0.005 * target);
}

TEST(VarianceScalingTest, FanInTruncatedNormalIsHeInitialization) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.scale = 2;
  spec.mode = FanMode::kFanIn;
  spec.distribution = ScalingDistribution::kTruncatedNormal;
  const double target = std::sqrt(2.0 / 800);  // fan_in of a 5x5x32x64.
  const std::vector<float> values =
      Values<float>(spec, DType::kFloat, {5, 5, 32, 64});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, -2 * target / kTruncatedUnitStddev * (1 + 1e-6));
  EXPECT_LE(m.max, 2 * target / kTruncatedUnitStddev * (1 + 1e-6));
  EXPECT_NEAR(m.stddev, target, 0.02 * target);
}

TEST(VarianceScalingTest, FanOutUntruncatedNormal) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.scale = 3;
  spec.mode = FanMode::kFanOut;
  spec.distribution = ScalingDistribution::kUntruncatedNormal;
  const double target = std::sqrt(3.0 / 5000);
  const std::vector<double> values =
      Values<double>(spec, DType::kDouble, {200, 5000});
  const Moments m = ComputeMoments(values);
  EXPECT_NEAR(m.stddev, target, 0.005 * target);
  EXPECT_NEAR(FractionWithin(values, 0.0, 2 * target), 0.9545, 0.002);
  EXPECT_GT(m.max, 4 * target);  // Not truncated.
}

TEST(VarianceScalingTest, FanAvgUniform) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.scale = 0.5;
  spec.mode = FanMode::kFanAvg;
  spec.distribution = ScalingDistribution::kUniform;
  // Field 12: fan_in 600, fan_out 720, average 660.
  const double limit = std::sqrt(3 * 0.5 / 660);
  const std::vector<double> values =
      Values<double>(spec, DType::kDouble, {3, 4, 50, 60});
  const Moments m = ComputeMoments(values);
  EXPECT_GE(m.min, -limit);
  EXPECT_LT(m.max, limit);
  EXPECT_GT(m.max, 0.999 * limit);
  EXPECT_NEAR(m.stddev, limit / std::sqrt(3.0), 0.01 * limit);
}

TEST(VarianceScalingTest, ScalarUsesFansOfOne) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.scale = 4;
  spec.distribution = ScalingDistribution::kUniform;
  const double limit = std::sqrt(12.0);
  double max_abs = 0;
  for (int64_t seed = 0; seed < 2000; ++seed) {
    spec.seed = seed;
    max_abs = std::max(max_abs,
                       std::fabs(Values<double>(spec, DType::kDouble, {})[0]));
  }
  EXPECT_LT(max_abs, limit);
  EXPECT_GT(max_abs, 0.99 * limit);
}

TEST(VarianceScalingTest, RejectsNonPositiveOrNonFiniteScale) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.scale = 0;
  EXPECT_EQ(ErrorOf(spec, DType::kFloat, {3}),
            "`scale` must be positive float. (variance_scaling initializer of "
            "variable foo/v has scale 0)");
  spec.scale = -1;
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}),
              HasSubstr("`scale` must be positive float. ("));
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}), HasSubstr("scale -1)"));
  spec.scale = std::nan("");
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}), HasSubstr("scale nan"));
  spec.scale = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}), HasSubstr("scale inf"));
}

TEST(VarianceScalingTest, RejectsUnknownModeOrDistribution) {
  InitializerSpec spec = Spec(InitializerKind::kVarianceScaling);
  spec.mode = static_cast<FanMode>(7);
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}), HasSubstr("unknown mode (7)"));
  spec.mode = FanMode::kFanAvg;
  spec.distribution = static_cast<ScalingDistribution>(-1);
  EXPECT_THAT(ErrorOf(spec, DType::kFloat, {3}),
              HasSubstr("distribution (-1)"));
}

// ---------------------------------------------------------------------------
// Validation that is not specific to one initializer.

TEST(ValidateTest, RandomDistributionsNeedFloatingDTypes) {
  for (InitializerKind kind :
       {InitializerKind::kRandomNormal, InitializerKind::kTruncatedNormal,
        InitializerKind::kGlorotUniform, InitializerKind::kGlorotNormal,
        InitializerKind::kVarianceScaling}) {
    for (DType dtype : {DType::kInt32, DType::kInt64, DType::kBool}) {
      EXPECT_EQ(ErrorOf(Spec(kind), dtype, {2, 2}),
                absl::StrCat("Initializer ", InitializerName(kind),
                             " for variable foo/v requires a floating point "
                             "dtype, got ",
                             DTypeName(dtype), "."));
    }
  }
  EXPECT_EQ(ErrorOf(Spec(InitializerKind::kRandomNormal), DType::kInt32, {}),
            "Initializer random_normal for variable foo/v requires a floating "
            "point dtype, got int32.");
}

TEST(ValidateTest, RejectsUnknownKindDTypeAndBadShape) {
  EXPECT_THAT(
      ErrorOf(Spec(static_cast<InitializerKind>(99)), DType::kFloat, {3}),
      HasSubstr("unknown initializer kind (99)"));
  EXPECT_THAT(
      ErrorOf(Spec(InitializerKind::kZeros), static_cast<DType>(4), {3}),
      HasSubstr("invalid dtype (4)"));
  EXPECT_THAT(ErrorOf(Spec(InitializerKind::kZeros), DType::kFloat, {2, -1}),
              HasSubstr("foo/v"));
}

TEST(ValidateTest, IgnoresParametersOtherInitializersUse) {
  InitializerSpec spec = Spec(InitializerKind::kZeros);
  spec.stddev = -1;
  spec.minval = std::nan("");
  spec.scale = 0;
  EXPECT_TRUE(ValidateInitializer(spec, DType::kInt32, {3}, kName).ok());
}

// ---------------------------------------------------------------------------
// Determinism and layout.

TEST(DeterminismTest, SameSeedGivesSameBytes) {
  for (InitializerKind kind :
       {InitializerKind::kRandomUniform, InitializerKind::kRandomNormal,
        InitializerKind::kTruncatedNormal, InitializerKind::kGlorotUniform,
        InitializerKind::kGlorotNormal, InitializerKind::kVarianceScaling}) {
    for (DType dtype : {DType::kFloat, DType::kDouble}) {
      const InitializerSpec spec = Spec(kind, -12345);
      EXPECT_EQ(RunBytes(spec, dtype, {300, 700}),
                RunBytes(spec, dtype, {300, 700}))
          << InitializerName(kind);
    }
  }
  InitializerSpec ints = Spec(InitializerKind::kRandomUniform, 0);
  ints.maxval = 1000;
  EXPECT_EQ(RunBytes(ints, DType::kInt64, {1000}),
            RunBytes(ints, DType::kInt64, {1000}));
}

TEST(DeterminismTest, DifferentSeedsDiffer) {
  const std::vector<char> a =
      RunBytes(Spec(InitializerKind::kRandomNormal, 1), DType::kFloat, {1000});
  const std::vector<char> b =
      RunBytes(Spec(InitializerKind::kRandomNormal, 2), DType::kFloat, {1000});
  EXPECT_NE(a, b);
}

TEST(DeterminismTest, UnseededCallsDiffer) {
  const InitializerSpec spec =
      Spec(InitializerKind::kRandomUniform, std::nullopt);
  EXPECT_NE(RunBytes(spec, DType::kDouble, {1000}),
            RunBytes(spec, DType::kDouble, {1000}));
  const InitializerSpec glorot =
      Spec(InitializerKind::kGlorotNormal, std::nullopt);
  EXPECT_NE(RunBytes(glorot, DType::kFloat, {100}),
            RunBytes(glorot, DType::kFloat, {100}));
}

// These values are part of the contract: a seeded variable must get the same
// value on every platform and in every release. The uniform and integer ones
// were computed independently (in Python) from the documented generator.
TEST(DeterminismTest, GoldenValues) {
  EXPECT_EQ(Values<double>(Spec(InitializerKind::kRandomUniform, 42),
                           DType::kDouble, {4}),
            std::vector<double>({0.34329192209867343, 0.9557467261317436,
                                 0.48634953628166855, 0.06735789320333596}));
  InitializerSpec ints = Spec(InitializerKind::kRandomUniform, 42);
  ints.minval = -3;
  ints.maxval = 4;
  EXPECT_EQ(Values<int32_t>(ints, DType::kInt32, {8}),
            std::vector<int32_t>({-1, 2, -2, -2, 2, -3, -3, -2}));
  // Python's math.log may differ from ours in the last bit, hence DOUBLE_EQ;
  // the exact bits are pinned below.
  const std::vector<double> normals = Values<double>(
      Spec(InitializerKind::kRandomNormal, 42), DType::kDouble, {4});
  const double python[] = {-0.1247481922738063, 0.3627992952312206,
                           -0.023950513022518233, -0.7590951213626472};
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(normals[i], python[i]) << i;
  EXPECT_EQ(normals, std::vector<double>(
                         {-0x1.fef7f5e0d1611p-4, 0x1.7381a8901ea8fp-2,
                          -0x1.8867bb89dd654p-6, -0x1.84a81da19c876p-1}));
  // The second block's stream starts 2^32 steps further along.
  EXPECT_EQ(Values<double>(Spec(InitializerKind::kRandomUniform, 42),
                           DType::kDouble, {65537})[65536],
            0.33922715107012325);
}

TEST(DeterminismTest, BlocksAreIndependentStreams) {
  // Blocks of 2^16 elements each use their own stream; make sure all of a
  // multi-block variable is written and no two blocks repeat each other.
  const int64_t n = 3 * 65536 + 5;
  const std::vector<double> values = Values<double>(
      Spec(InitializerKind::kRandomUniform, 9), DType::kDouble, {n});
  for (int64_t block = 0; block < 3; ++block) {
    const auto begin = values.begin() + block * 65536;
    const auto next = begin + 65536;
    EXPECT_FALSE(std::equal(begin, begin + 100, next));
  }
  const std::vector<double> tail(values.end() - 65541, values.end());
  const Moments m = ComputeMoments(tail);
  EXPECT_GT(m.min, 0.0);  // No zeros left unwritten.
  EXPECT_NEAR(m.mean, 0.5, 0.01);
}

TEST(DeterminismTest, ThreadedFillMatchesSequentialFill) {
  // 20 blocks are split between threads on a multi-core machine; 11 blocks
  // are filled by one. A block's values depend only on its index.
  const int64_t block = 65536;
  const InitializerSpec spec = Spec(InitializerKind::kTruncatedNormal, 5);
  const std::vector<float> big =
      Values<float>(spec, DType::kFloat, {20 * block});
  const std::vector<float> small =
      Values<float>(spec, DType::kFloat, {11 * block});
  EXPECT_TRUE(std::equal(small.begin(), small.end(), big.begin()));
}

TEST(LayoutTest, LittleEndianRowMajorBytes) {
  InitializerSpec spec = Spec(InitializerKind::kConstant);
  spec.values = {1, 256, -1};
  EXPECT_EQ(RunBytes(spec, DType::kInt32, {3}),
            std::vector<char>(
                {1, 0, 0, 0, 0, 1, 0, 0, '\xff', '\xff', '\xff', '\xff'}));
  spec.values = {1.0};
  EXPECT_EQ(RunBytes(spec, DType::kFloat, {}),
            std::vector<char>({0, 0, '\x80', '\x3f'}));
  spec.values = {0, 1};
  EXPECT_EQ(RunBytes(spec, DType::kBool, {2}), std::vector<char>({0, 1}));
}

TEST(LayoutTest, EmptyVariablesWriteNothing) {
  for (InitializerKind kind :
       {InitializerKind::kGlorotUniform, InitializerKind::kVarianceScaling,
        InitializerKind::kRandomNormal}) {
    EXPECT_TRUE(RunBytes(Spec(kind), DType::kFloat, {0, 5}).empty());
  }
}

TEST(FullShapeTest, PartitionTakesGlorotFansFromTheWholeVariable) {
  // A [2, 4] partition of a [6, 4] variable: fan_avg 5, so Glorot's limit is
  // sqrt(3 / 5), as variance_scaling(0.6, fan_avg, uniform) on [2, 4] gives.
  InitializerSpec partition = Spec(InitializerKind::kGlorotUniform, 3);
  partition.full_shape = TensorShape{6, 4};
  InitializerSpec same_limit = Spec(InitializerKind::kVarianceScaling, 3);
  same_limit.scale = 0.6;
  same_limit.mode = FanMode::kFanAvg;
  same_limit.distribution = ScalingDistribution::kUniform;
  const std::vector<float> got =
      Values<float>(partition, DType::kFloat, {2, 4});
  const std::vector<float> want =
      Values<float>(same_limit, DType::kFloat, {2, 4});
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  const std::vector<float> own_fans = Values<float>(
      Spec(InitializerKind::kGlorotUniform, 3), DType::kFloat, {2, 4});
  EXPECT_NE(got, own_fans);
}

TEST(FullShapeTest, MustHaveThePartitionsRankAndCoverIt) {
  InitializerSpec spec = Spec(InitializerKind::kGlorotUniform);
  spec.full_shape = TensorShape{6};
  EXPECT_THAT(
      std::string(
          ValidateInitializer(spec, DType::kFloat, {2, 4}, kName).message()),
      HasSubstr("of shape (2, 4) cannot be a partition of full shape (6"));
  spec.full_shape = TensorShape{1, 4};
  EXPECT_EQ(ValidateInitializer(spec, DType::kFloat, {2, 4}, kName).code(),
            absl::StatusCode::kInvalidArgument);
  spec.full_shape = TensorShape{6, 4};
  EXPECT_TRUE(ValidateInitializer(spec, DType::kFloat, {2, 4}, kName).ok());
}

}  // namespace
}  // namespace paramserver
