#include "kernels/mse_loss.h"

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/relu_backward.h"

namespace paramserver {
namespace kernels {
namespace {

// Values with a fixed pattern: some outputs exactly 0 (ReLU cut them off).
std::vector<float> Pattern(size_t n, int seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    const int r = static_cast<int>((i * 7919 + seed * 104729) % 1000);
    v[i] = r < 300 ? 0.0f : (r - 300) / 700.0f * (seed % 2 ? 1.0f : 2.0f);
  }
  return v;
}

// Sizes around the 16-float vector and the 1024-float chunk.
TEST(MseLossTest, MatchesScalarDoubleLoop) {
  for (size_t n : {1u, 15u, 16u, 17u, 1023u, 1024u, 1025u, 5000u}) {
    const std::vector<float> out = Pattern(n, 1), target = Pattern(n, 2);
    std::vector<float> grad(n, 99.0f);
    const float scale = 2.0f / n;
    absl::StatusOr<double> sum =
        MseLossAndReluGradient(out, target, scale, absl::MakeSpan(grad));
    ASSERT_TRUE(sum.ok()) << sum.status();
    double expected = 0;
    for (size_t i = 0; i < n; ++i) {
      const double diff = double(out[i]) - target[i];
      expected += diff * diff;
      const float g = out[i] > 0 ? scale * (out[i] - target[i]) : 0.0f;
      ASSERT_FLOAT_EQ(grad[i], g) << "n " << n << " element " << i;
    }
    EXPECT_NEAR(*sum, expected, 1e-6 * expected) << "n " << n;
  }
}

TEST(MseLossTest, RejectsMismatchedSizes) {
  std::vector<float> a(10), b(9), g(10);
  EXPECT_EQ(
      MseLossAndReluGradient(a, b, 1.0f, absl::MakeSpan(g)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      MseLossAndReluGradient(a, a, 1.0f, absl::MakeSpan(b)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(MseLossTest, ReluMaskOnLongTensorsKeepsOnlyPositiveOutputs) {
  const size_t n = 1000;
  const std::vector<float> out = Pattern(n, 3);
  std::vector<float> grad = Pattern(n, 4);
  const std::vector<float> original = grad;
  ASSERT_TRUE(MaskReluGradient(out, absl::MakeSpan(grad)).ok());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(grad[i], out[i] > 0 ? original[i] : 0.0f) << i;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
