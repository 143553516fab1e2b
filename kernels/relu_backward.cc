#include "kernels/relu_backward.h"

#include <immintrin.h>

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

void MaskScalar(const float* relu_output, float* grad, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    grad[i] = relu_output[i] > 0.0f ? grad[i] : 0.0f;
  }
}

// gcc -O2 does not vectorize the loop above; this is it in AVX-512, the
// tail with masked loads and stores.
__attribute__((target("avx512f"))) void MaskAvx512(const float* relu_output,
                                                   float* grad, size_t n) {
  const __m512 zero = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 valid =
        n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __mmask16 positive = _mm512_mask_cmp_ps_mask(
        valid, _mm512_maskz_loadu_ps(valid, relu_output + i), zero, _CMP_GT_OQ);
    _mm512_mask_storeu_ps(grad + i, valid,
                          _mm512_maskz_loadu_ps(positive, grad + i));
  }
}

void MaskLoop(const float* relu_output, float* grad, size_t n) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) {
    MaskAvx512(relu_output, grad, n);
  } else {
    MaskScalar(relu_output, grad, n);
  }
}

}  // namespace

absl::Status MaskReluGradient(absl::Span<const float> relu_output,
                              absl::Span<float> grad) {
  if (relu_output.size() != grad.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relu_output has ", relu_output.size(),
                     " elements but grad has ", grad.size()));
  }
  MaskLoop(relu_output.data(), grad.data(), grad.size());
  return absl::OkStatus();
}

}  // namespace kernels
}  // namespace paramserver
