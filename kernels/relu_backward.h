// Backward pass of a ReLU, computed from the ReLU's output.
//
// A Conv2D with fuse_relu does not expose its pre-activation, but ReLU's
// derivative can be read off the output: it is 1 where output > 0 and 0
// elsewhere (oneDNN's relu_use_dst_for_bwd convention; at exactly 0 the
// subgradient 0 is used, as TF and PyTorch do).

#ifndef PARAMSERVER_KERNELS_RELU_BACKWARD_H_
#define PARAMSERVER_KERNELS_RELU_BACKWARD_H_

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace paramserver {
namespace kernels {

// grad[i] = relu_output[i] > 0 ? grad[i] : 0, in place, turning dL/d(relu
// output) into dL/d(relu input). Any layout, as long as both spans share it.
// INVALID_ARGUMENT if the sizes differ. Thread-safe (no shared state).
absl::Status MaskReluGradient(absl::Span<const float> relu_output,
                              absl::Span<float> grad);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_RELU_BACKWARD_H_
