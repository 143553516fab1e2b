#include "kernels/relu_backward.h"

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {

absl::Status MaskReluGradient(absl::Span<const float> relu_output,
                              absl::Span<float> grad) {
  if (relu_output.size() != grad.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relu_output has ", relu_output.size(),
                     " elements but grad has ", grad.size()));
  }
  // Branch-free so the compiler vectorizes it.
  for (size_t i = 0; i < grad.size(); ++i) {
    grad[i] = relu_output[i] > 0.0f ? grad[i] : 0.0f;
  }
  return absl::OkStatus();
}

}  // namespace kernels
}  // namespace paramserver
