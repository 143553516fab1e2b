#include "kernels/mse_loss.h"

#include <algorithm>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

constexpr size_t kLanes = 16;  // One AVX-512 register of floats.
constexpr size_t kChunk = 1024;

// Sum of squared differences over [begin, end); 16 independent float
// accumulators so the loop vectorizes without reassociation flags.
__attribute__((target_clones("avx512f", "default"))) float ChunkLoss(
    const float* out, const float* target, float scale, float* grad,
    size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t k = 0; k < kLanes; ++k) {
      const float y = out[i + k];
      const float diff = y - target[i + k];
      acc[k] += diff * diff;
      grad[i + k] = y > 0.0f ? scale * diff : 0.0f;
    }
  }
  for (; i < n; ++i) {
    const float diff = out[i] - target[i];
    acc[0] += diff * diff;
    grad[i] = out[i] > 0.0f ? scale * diff : 0.0f;
  }
  float sum = 0;
  for (size_t k = 0; k < kLanes; ++k) sum += acc[k];
  return sum;
}

}  // namespace

absl::StatusOr<double> MseLossAndReluGradient(
    absl::Span<const float> relu_output, absl::Span<const float> target,
    float scale, absl::Span<float> grad) {
  if (relu_output.size() != target.size() ||
      relu_output.size() != grad.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "relu_output, target and grad have ", relu_output.size(), ", ",
        target.size(), " and ", grad.size(), " elements; they must match"));
  }
  double total = 0;
  for (size_t begin = 0; begin < grad.size(); begin += kChunk) {
    const size_t n = std::min(kChunk, grad.size() - begin);
    total += ChunkLoss(relu_output.data() + begin, target.data() + begin,
                       scale, grad.data() + begin, n);
  }
  return total;
}

}  // namespace kernels
}  // namespace paramserver
