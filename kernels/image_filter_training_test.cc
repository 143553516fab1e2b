#include "kernels/image_filter_training.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/reference_conv.h"
#include "kernels/test_util.h"

namespace paramserver {
namespace kernels {
namespace {

constexpr double kRtol = 1e-5;  // oneDNN (float) vs the double reference.
// How far the gradients may move between 1 and 2 threads (summation order
// only), relative to each gradient's largest element.
constexpr double kThreadRtol = 1e-5;
constexpr double kFdStep = 1e-6;  // Double finite differences.
constexpr int kFdSamples = 12;    // Elements checked per tensor.

Conv2DParams ReferenceParams(const ImageFilterParams& f) {
  Conv2DParams p;
  p.batch = f.batch;
  p.in_h = f.height;
  p.in_w = f.width;
  p.in_c = p.out_c = f.channels;
  p.kernel_h = p.kernel_w = f.kernel;
  p.fuse_relu = true;
  return p;
}

std::vector<float> Scaled(std::vector<float> v, float scale) {
  for (float& x : v) x *= scale;
  return v;
}

// A training problem with activations of order 1.
struct Problem {
  ImageFilterParams shape;
  std::vector<float> input, targets;
  std::vector<float> tensors[4];  // w1, b1, w2, b2.
};

Problem MakeProblem(const ImageFilterParams& f) {
  Problem x;
  x.shape = f;
  const int64_t image = f.batch * f.height * f.width * f.channels;
  const int64_t weights = f.kernel * f.kernel * f.channels * f.channels;
  const float scale = 1.5f / std::sqrt(float(f.kernel * f.kernel * f.channels));
  x.input = RandomFloats(image, 1);
  x.targets = Scaled(RandomFloats(image, 2), 0.5f);
  x.tensors[0] = Scaled(RandomFloats(weights, 3), scale);
  x.tensors[1] = Scaled(RandomFloats(f.channels, 4), 0.1f);
  x.tensors[2] = Scaled(RandomFloats(weights, 5), scale);
  x.tensors[3] = Scaled(RandomFloats(f.channels, 6), 0.1f);
  return x;
}

struct Result {
  double loss = 0;
  std::vector<double> gradients[4];
};

Result RunOurs(const Problem& x, int num_threads) {
  ImageFilterParams f = x.shape;
  f.num_threads = num_threads;
  absl::StatusOr<std::unique_ptr<ImageFilterTraining>> training =
      ImageFilterTraining::Create(f);
  EXPECT_TRUE(training.ok()) << training.status();
  if (!training.ok()) return {};
  std::vector<float> g[4];
  FilterGradients spans;
  for (int t = 0; t < 4; ++t) {
    g[t].assign(x.tensors[t].size(), -7.0f);  // Must be overwritten.
    spans[t] = absl::MakeSpan(g[t]);
  }
  EXPECT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 1)
                  .ok());
  absl::StatusOr<double> loss =
      (*training)->LossAndGradients(x.input, x.targets, spans);
  EXPECT_TRUE(loss.ok()) << loss.status();
  Result r;
  r.loss = loss.value_or(0);
  for (int t = 0; t < 4; ++t) r.gradients[t] = ToDouble(g[t]);
  return r;
}

// Mean squared error of the double reference filter.
double ReferenceLoss(const Conv2DParams& p, const std::vector<double>& input,
                     const std::vector<double>& targets,
                     const std::vector<double> (&w)[4],
                     std::vector<double>* relu1 = nullptr,
                     std::vector<double>* output = nullptr) {
  std::vector<double> h = ReferenceConv2D(p, input, w[0], w[1]);
  std::vector<double> out = ReferenceConv2D(p, h, w[2], w[3]);
  double sum = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    sum += (out[i] - targets[i]) * (out[i] - targets[i]);
  }
  if (relu1 != nullptr) *relu1 = std::move(h);
  if (output != nullptr) *output = std::move(out);
  return sum / static_cast<double>(input.size());
}

// Backpropagation through the double reference convolutions.
Result RunReference(const Problem& x) {
  const Conv2DParams p = ReferenceParams(x.shape);
  const std::vector<double> input = ToDouble(x.input);
  const std::vector<double> targets = ToDouble(x.targets);
  std::vector<double> w[4];
  for (int t = 0; t < 4; ++t) w[t] = ToDouble(x.tensors[t]);
  std::vector<double> h, out;
  Result r;
  r.loss = ReferenceLoss(p, input, targets, w, &h, &out);
  const double n = static_cast<double>(out.size());
  std::vector<double> g(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    g[i] = out[i] > 0 ? 2 * (out[i] - targets[i]) / n : 0;
  }
  ReferenceConv2DBackwardWeights(p, h, g, &r.gradients[2], &r.gradients[3]);
  std::vector<double> gh = ReferenceConv2DBackwardData(p, g, w[2]);
  for (size_t i = 0; i < gh.size(); ++i) gh[i] = h[i] > 0 ? gh[i] : 0;
  ReferenceConv2DBackwardWeights(p, input, gh, &r.gradients[0],
                                 &r.gradients[1]);
  return r;
}

// Central differences of the double reference loss at kFdSamples elements
// of each tensor; unsampled elements, and samples where a ReLU kink lies
// within the step (one-sided differences disagree), keep `analytic`.
Result FiniteDifferences(const Problem& x, const Result& analytic) {
  const Conv2DParams p = ReferenceParams(x.shape);
  const std::vector<double> input = ToDouble(x.input);
  const std::vector<double> targets = ToDouble(x.targets);
  std::vector<double> w[4];
  for (int t = 0; t < 4; ++t) w[t] = ToDouble(x.tensors[t]);
  const auto loss = [&] { return ReferenceLoss(p, input, targets, w); };
  const double base = loss();
  Result fd = analytic;
  int sampled = 0, skipped = 0;
  for (int t = 0; t < 4; ++t) {
    double scale = 0;
    for (double v : analytic.gradients[t]) scale = std::max(scale, std::abs(v));
    const size_t step = std::max<size_t>(1, w[t].size() / kFdSamples);
    for (size_t i = 0; i < w[t].size(); i += step) {
      const double saved = w[t][i];
      w[t][i] = saved + kFdStep;
      const double plus = loss();
      w[t][i] = saved - kFdStep;
      const double minus = loss();
      w[t][i] = saved;
      ++sampled;
      if (std::abs((plus - base) - (base - minus)) / kFdStep > 1e-3 * scale) {
        ++skipped;
        continue;
      }
      fd.gradients[t][i] = (plus - minus) / (2 * kFdStep);
    }
  }
  EXPECT_LE(skipped, 1 + sampled / 10) << "too many ReLU kinks";
  return fd;
}

void ExpectClose(const Result& actual, const Result& expected, double rtol) {
  EXPECT_NEAR(actual.loss, expected.loss, rtol * std::abs(expected.loss));
  for (int t = 0; t < 4; ++t) {
    EXPECT_TRUE(
        AllCloseNormwise(actual.gradients[t], expected.gradients[t], rtol))
        << "gradient of tensor " << t;
  }
}

// Channels that fill oneDNN's 16-blocks and ones that are padded; 1 and 2
// threads (the second runs conv2's two backward passes concurrently).
const ImageFilterParams kCases[] = {
    {1, 12, 10, 32, 5, 1}, {2, 9, 11, 32, 5, 2}, {3, 7, 5, 8, 3, 1},
    {2, 6, 7, 3, 3, 2},    {1, 8, 8, 17, 5, 2},
};

TEST(ImageFilterTrainingTest, MatchesReferenceBackpropagation) {
  for (const ImageFilterParams& f : kCases) {
    SCOPED_TRACE(testing::Message()
                 << f.batch << "x" << f.height << "x" << f.width << "x"
                 << f.channels << " k" << f.kernel << " threads "
                 << f.num_threads);
    const Problem x = MakeProblem(f);
    ExpectClose(RunOurs(x, f.num_threads), RunReference(x), kRtol);
  }
}

TEST(ImageFilterTrainingTest, MatchesFiniteDifferences) {
  for (const ImageFilterParams& f : {ImageFilterParams{2, 6, 5, 32, 3, 2},
                                     ImageFilterParams{2, 5, 6, 3, 3, 1}}) {
    const Problem x = MakeProblem(f);
    const Result ours = RunOurs(x, f.num_threads);
    ExpectClose(ours, FiniteDifferences(x, ours), kRtol);
  }
}

// Guards against a vacuous finite-difference check: a gradient off by 1e-4
// of its scale in one element must be caught.
TEST(ImageFilterTrainingTest, FiniteDifferencesCatchAWrongGradient) {
  const Problem x = MakeProblem({2, 6, 5, 32, 3, 1});
  Result wrong = RunReference(x);
  double scale = 0;
  for (double g : wrong.gradients[2]) scale = std::max(scale, std::abs(g));
  wrong.gradients[2][0] += 1e-4 * scale;
  EXPECT_FALSE(AllCloseNormwise(
      wrong.gradients[2], FiniteDifferences(x, wrong).gradients[2], kRtol));
}

TEST(ImageFilterTrainingTest, ThreadCountChangesOnlySummationOrder) {
  const Problem x = MakeProblem({4, 24, 20, 32, 5, 0});
  const Result one = RunOurs(x, 1), two = RunOurs(x, 2);
  ExpectClose(two, one, kThreadRtol);
}

TEST(ImageFilterTrainingTest, ForwardMatchesReference) {
  const Problem x = MakeProblem({2, 9, 11, 32, 5, 2});
  auto training = ImageFilterTraining::Create(x.shape);
  ASSERT_TRUE(training.ok()) << training.status();
  ASSERT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 1)
                  .ok());
  std::vector<float> output(x.input.size());
  ASSERT_TRUE((*training)->Forward(x.input, absl::MakeSpan(output)).ok());
  const Conv2DParams p = ReferenceParams(x.shape);
  const std::vector<double> h = ReferenceConv2D(
      p, ToDouble(x.input), ToDouble(x.tensors[0]), ToDouble(x.tensors[1]));
  EXPECT_TRUE(AllCloseNormwise(
      output,
      ReferenceConv2D(p, h, ToDouble(x.tensors[2]), ToDouble(x.tensors[3])),
      kRtol));
  EXPECT_EQ((*training)->StepFlops(),
            5 * 2.0 * x.input.size() * x.tensors[0].size() / 32);
}

TEST(ImageFilterTrainingTest, WeightsAreReReadOnlyWhenTheVersionChanges) {
  Problem x = MakeProblem({1, 6, 6, 8, 3, 1});
  auto training = ImageFilterTraining::Create(x.shape);
  ASSERT_TRUE(training.ok()) << training.status();
  std::vector<float> before(x.input.size()), after(x.input.size());
  ASSERT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 1)
                  .ok());
  ASSERT_TRUE((*training)->Forward(x.input, absl::MakeSpan(before)).ok());
  for (float& v : x.tensors[3]) v += 1.0f;
  ASSERT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 1)
                  .ok());
  ASSERT_TRUE((*training)->Forward(x.input, absl::MakeSpan(after)).ok());
  EXPECT_EQ(before, after);
  ASSERT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 2)
                  .ok());
  ASSERT_TRUE((*training)->Forward(x.input, absl::MakeSpan(after)).ok());
  EXPECT_NE(before, after);
}

TEST(ImageFilterTrainingTest, RejectsBadArguments) {
  EXPECT_EQ(ImageFilterTraining::Create({1, 0, 8, 32, 5, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImageFilterTraining::Create({1, 8, 8, 32, 5, -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Problem x = MakeProblem({1, 6, 6, 4, 3, 1});
  auto training = ImageFilterTraining::Create(x.shape);
  ASSERT_TRUE(training.ok()) << training.status();
  std::vector<float> g[4] = {std::vector<float>(144), std::vector<float>(4),
                             std::vector<float>(144), std::vector<float>(4)};
  FilterGradients spans = {absl::MakeSpan(g[0]), absl::MakeSpan(g[1]),
                           absl::MakeSpan(g[2]), absl::MakeSpan(g[3])};
  EXPECT_EQ(
      (*training)->LossAndGradients(x.input, x.targets, spans).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*training)
                ->SetWeights(x.tensors[1], x.tensors[1], x.tensors[2],
                             x.tensors[3], 1)
                .code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*training)
                  ->SetWeights(x.tensors[0], x.tensors[1], x.tensors[2],
                               x.tensors[3], 1)
                  .ok());
  EXPECT_TRUE((*training)->LossAndGradients(x.input, x.targets, spans).ok());
  EXPECT_EQ((*training)
                ->LossAndGradients(x.input,
                                   absl::MakeSpan(x.targets).subspan(1), spans)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  spans[1] = spans[0];
  EXPECT_EQ(
      (*training)->LossAndGradients(x.input, x.targets, spans).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
