#include "kernels/mse_loss.h"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

constexpr size_t kChunk = 1024;

// Scalar version, for CPUs without AVX-512 and for reference.
float ChunkLossScalar(const float* out, const float* target, float scale,
                      float* grad, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float diff = out[i] - target[i];
    sum += diff * diff;
    grad[i] = out[i] > 0.0f ? scale * diff : 0.0f;
  }
  return sum;
}

// gcc -O2 does not vectorize the loop above (masked stores, a float
// reduction), so the AVX-512 version is written out; the tail uses masked
// loads and stores.
__attribute__((target("avx512f"))) float ChunkLossAvx512(
    const float* out, const float* target, float scale, float* grad, size_t n) {
  const __m512 zero = _mm512_setzero_ps(), factor = _mm512_set1_ps(scale);
  __m512 acc = zero;
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 valid =
        n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 y = _mm512_maskz_loadu_ps(valid, out + i);
    const __m512 diff =
        _mm512_sub_ps(y, _mm512_maskz_loadu_ps(valid, target + i));
    acc = _mm512_fmadd_ps(diff, diff, acc);
    const __mmask16 positive = _mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ);
    _mm512_mask_storeu_ps(grad + i, valid,
                          _mm512_maskz_mul_ps(positive, factor, diff));
  }
  return _mm512_reduce_add_ps(acc);
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
  static const bool kAvx512 = __builtin_cpu_supports("avx512f");
  double total = 0;
  for (size_t begin = 0; begin < grad.size(); begin += kChunk) {
    const size_t n = std::min(kChunk, grad.size() - begin);
    total +=
        kAvx512
            ? ChunkLossAvx512(relu_output.data() + begin, target.data() + begin,
                              scale, grad.data() + begin, n)
            : ChunkLossScalar(relu_output.data() + begin, target.data() + begin,
                              scale, grad.data() + begin, n);
  }
  return total;
}

}  // namespace kernels
}  // namespace paramserver
