// The two elementwise steps of the image filter's backward pass, written as
// flat loops over whatever layout the caller's tensors share (NHWC or one of
// oneDNN's blocked layouts): the mean-squared-error loss fused with the last
// ReLU's backward pass, and the ReLU mask for the inner one (MaskReluGradient
// in relu_backward.h). Each has an AVX-512 version, used when the CPU has it,
// and a scalar one.

#ifndef PARAMSERVER_KERNELS_MSE_LOSS_H_
#define PARAMSERVER_KERNELS_MSE_LOSS_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace paramserver {
namespace kernels {

// For the loss L = scale/2 * sum((relu_output - target)^2), writes
// grad[i] = dL/d(pre-ReLU value i) = relu_output[i] > 0 ?
// scale * (relu_output[i] - target[i]) : 0 and returns
// sum((relu_output - target)^2). With scale = 2/n this is the gradient of
// the mean squared error over n elements. Elements a blocked layout pads
// with zeros in both inputs contribute nothing. The sum is accumulated in
// float over chunks of 1024 elements (16 lanes with AVX-512) and in double
// across chunks, so its relative error is about 1e-6. INVALID_ARGUMENT if the
// sizes differ. Thread-safe (no shared state).
absl::StatusOr<double> MseLossAndReluGradient(
    absl::Span<const float> relu_output, absl::Span<const float> target,
    float scale, absl::Span<float> grad);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_MSE_LOSS_H_
