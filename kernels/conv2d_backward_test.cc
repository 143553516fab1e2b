#include "kernels/conv2d_backward.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/conv2d.h"
#include "kernels/reference_conv.h"
#include "kernels/relu_backward.h"
#include "kernels/test_util.h"

namespace paramserver {
namespace kernels {
namespace {

constexpr double kRtol = 1e-5;    // oneDNN (float) vs double.
constexpr double kFdRtol = 1e-7;  // Double reference vs double FD.
// The loss is piecewise linear, so differences are exact up to rounding
// (~1e-9 here) unless a ReLU kink lies within a step; those samples are
// detected and skipped.
constexpr double kFdStep = 1e-6;
constexpr double kKinkTolerance = 1e-4;
constexpr int kFdSamples = 24;  // Elements checked per tensor.

// Data for one backward problem: forward inputs, a random upstream gradient
// g of the loss L = sum(g * forward(input, weights, bias)).
struct Problem {
  Conv2DParams params;
  Conv2DGeometry geometry;
  std::vector<float> input, weights, bias, grad_output;
};

Problem MakeProblem(const Conv2DParams& p) {
  Problem x;
  x.params = p;
  x.geometry = *ComputeConv2DGeometry(p);
  x.input = RandomFloats(x.geometry.input_size, 11);
  x.weights = RandomFloats(x.geometry.weights_size, 12);
  x.bias = RandomFloats(p.out_c, 13);
  x.grad_output = RandomFloats(x.geometry.output_size, 14);
  return x;
}

// The gradient with respect to the convolution's output (pre-ReLU): g
// masked by the forward output when ReLU is fused, as a training step does.
std::vector<float> PreReluGrad(const Problem& x,
                               const std::vector<float>& forward_output) {
  std::vector<float> grad = x.grad_output;
  if (x.params.fuse_relu) {
    EXPECT_TRUE(MaskReluGradient(forward_output, absl::MakeSpan(grad)).ok());
  }
  return grad;
}

// Conv2D's forward output for the problem.
std::vector<float> OneDnnForward(const Problem& x) {
  std::vector<float> output(x.geometry.output_size);
  absl::StatusOr<std::unique_ptr<Conv2D>> conv = Conv2D::Create(x.params);
  EXPECT_TRUE(conv.ok()) << conv.status();
  if (!conv.ok()) return output;
  EXPECT_TRUE((*conv)->SetWeights(x.weights, x.bias, 1).ok());
  EXPECT_TRUE((*conv)->Forward(x.input, absl::MakeSpan(output)).ok());
  return output;
}

struct Gradients {
  std::vector<double> input, weights, bias;
};

Gradients ReferenceGradients(const Problem& x) {
  const std::vector<double> g = ToDouble(
      PreReluGrad(x, ReferenceConv2D(x.params, x.input, x.weights, x.bias)));
  Gradients r;
  r.input = ReferenceConv2DBackwardData(x.params, g, ToDouble(x.weights));
  ReferenceConv2DBackwardWeights(x.params, ToDouble(x.input), g, &r.weights,
                                 &r.bias);
  return r;
}

// Runs oneDNN's backward passes on the ReLU-masked gradient.
Gradients OneDnnGradients(const Problem& x) {
  const std::vector<float> g = PreReluGrad(x, OneDnnForward(x));
  std::vector<float> grad_input(x.geometry.input_size);
  std::vector<float> grad_weights(x.geometry.weights_size);
  std::vector<float> grad_bias(x.params.out_c);
  auto data = Conv2DBackwardData::Create(x.params);
  auto weights = Conv2DBackwardWeights::Create(x.params);
  EXPECT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(weights.ok()) << weights.status();
  if (!data.ok() || !weights.ok()) return {};
  EXPECT_TRUE((*data)->SetWeights(x.weights, 1).ok());
  EXPECT_TRUE((*data)->Backward(g, absl::MakeSpan(grad_input)).ok());
  EXPECT_TRUE((*weights)
                  ->Backward(x.input, g, absl::MakeSpan(grad_weights),
                             absl::MakeSpan(grad_bias))
                  .ok());
  return {ToDouble(grad_input), ToDouble(grad_weights), ToDouble(grad_bias)};
}

// Central differences of L at kFdSamples evenly spread elements of
// `*tensor` (always including element 0); other elements of the result,
// and samples straddling a ReLU kink, are copied from `analytic`, so a
// normwise comparison only sees the sampled ones. Fails the test if more
// than a few samples had to be skipped.
std::vector<double> FiniteDifferences(const std::function<double()>& loss,
                                      std::vector<double>* tensor,
                                      const std::vector<double>& analytic) {
  std::vector<double> fd = analytic;
  const double base = loss();
  const size_t step = std::max<size_t>(1, tensor->size() / kFdSamples);
  int sampled = 0, skipped = 0;
  for (size_t i = 0; i < tensor->size(); i += step) {
    const double saved = (*tensor)[i];
    (*tensor)[i] = saved + kFdStep;
    const double plus = loss();
    (*tensor)[i] = saved - kFdStep;
    const double minus = loss();
    (*tensor)[i] = saved;
    ++sampled;
    const double right = (plus - base) / kFdStep;
    const double left = (base - minus) / kFdStep;
    if (std::abs(right - left) > kKinkTolerance) {
      ++skipped;
      continue;
    }
    fd[i] = (plus - minus) / (2 * kFdStep);
  }
  EXPECT_LE(skipped, 1 + sampled / 10) << "too many ReLU kinks";
  return fd;
}

// Finite-difference gradients of L in double, sampled, with the analytic
// values elsewhere.
Gradients FdGradients(const Problem& x, const Gradients& analytic) {
  std::vector<double> in = ToDouble(x.input), w = ToDouble(x.weights);
  std::vector<double> b = ToDouble(x.bias);
  const std::vector<double> g = ToDouble(x.grad_output);
  const std::function<double()> loss = [&] {
    const std::vector<double> out = ReferenceConv2D(x.params, in, w, b);
    double sum = 0;
    for (size_t i = 0; i < out.size(); ++i) sum += g[i] * out[i];
    return sum;
  };
  return {FiniteDifferences(loss, &in, analytic.input),
          FiniteDifferences(loss, &w, analytic.weights),
          FiniteDifferences(loss, &b, analytic.bias)};
}

void ExpectGradientsClose(const Gradients& actual, const Gradients& expected,
                          double rtol) {
  EXPECT_TRUE(AllCloseNormwise(actual.input, expected.input, rtol))
      << "grad input";
  EXPECT_TRUE(AllCloseNormwise(actual.weights, expected.weights, rtol))
      << "grad weights";
  EXPECT_TRUE(AllCloseNormwise(actual.bias, expected.bias, rtol))
      << "grad bias";
}

class Conv2DBackwardCaseTest : public testing::TestWithParam<Conv2DParams> {};

TEST_P(Conv2DBackwardCaseTest, OneDnnMatchesReference) {
  const Problem x = MakeProblem(GetParam());
  ExpectGradientsClose(OneDnnGradients(x), ReferenceGradients(x), kRtol);
}

TEST_P(Conv2DBackwardCaseTest, ReferenceMatchesFiniteDifferences) {
  const Problem x = MakeProblem(GetParam());
  const Gradients reference = ReferenceGradients(x);
  ExpectGradientsClose(reference, FdGradients(x, reference), kFdRtol);
}

TEST_P(Conv2DBackwardCaseTest, OneDnnMatchesFiniteDifferences) {
  const Problem x = MakeProblem(GetParam());
  const Gradients ours = OneDnnGradients(x);
  ExpectGradientsClose(ours, FdGradients(x, ours), kRtol);
}

// Guards against a vacuous comparison: an error of 1e-4 of the gradient's
// scale in one element must be caught.
TEST_P(Conv2DBackwardCaseTest, FiniteDifferencesCatchAWrongGradient) {
  const Problem x = MakeProblem(GetParam());
  Gradients wrong = ReferenceGradients(x);
  double scale = 0;
  for (double g : wrong.weights) scale = std::max(scale, std::abs(g));
  wrong.weights[0] += 1e-4 * scale;
  const Gradients fd = FdGradients(x, wrong);
  EXPECT_FALSE(AllCloseNormwise(wrong.weights, fd.weights, kRtol));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2DBackwardCaseTest,
                         testing::ValuesIn(TestConvCases()),
                         [](const testing::TestParamInfo<Conv2DParams>& info) {
                           return CaseName(info.param);
                         });

TEST(Conv2DBackwardTest, CreateRejectsBadParams) {
  Conv2DParams p = TestConvCases()[0];
  p.stride_w = 0;
  EXPECT_EQ(Conv2DBackwardData::Create(p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Conv2DBackwardWeights::Create(p).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Conv2DBackwardTest, RejectsBadCalls) {
  const Problem x = MakeProblem(TestConvCases()[1]);
  auto data = Conv2DBackwardData::Create(x.params);
  auto weights = Conv2DBackwardWeights::Create(x.params);
  ASSERT_TRUE(data.ok() && weights.ok());
  std::vector<float> grad_input(x.geometry.input_size);
  std::vector<float> grad_weights(x.geometry.weights_size), grad_bias(5);
  EXPECT_EQ((*data)->Backward(x.grad_output, absl::MakeSpan(grad_input)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*data)->SetWeights(x.bias, 1).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*data)->SetWeights(x.weights, 1).ok());
  EXPECT_EQ((*data)->Backward(x.input, absl::MakeSpan(grad_input)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*weights)
                ->Backward(x.input, x.grad_output, absl::MakeSpan(grad_bias),
                           absl::MakeSpan(grad_weights))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReluBackwardTest, MasksWhereOutputIsNotPositive) {
  const std::vector<float> out = {0.0f, 2.0f, 0.0f, 0.5f};
  std::vector<float> grad = {1.0f, -2.0f, 3.0f, 4.0f};
  ASSERT_TRUE(MaskReluGradient(out, absl::MakeSpan(grad)).ok());
  EXPECT_EQ(grad, (std::vector<float>{0.0f, -2.0f, 0.0f, 4.0f}));
  EXPECT_EQ(MaskReluGradient(out, absl::MakeSpan(grad).subspan(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
