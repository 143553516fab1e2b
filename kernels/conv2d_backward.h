// Backward passes of Conv2D: gradients with respect to the input
// (Conv2DBackwardData) and to the weights and bias (Conv2DBackwardWeights).
// Separate classes because the first layer of a network needs no input
// gradient, and the data pass caches weights while the weights pass does not.
//
// Same layouts and conventions as Conv2D: NHWC activations and gradients,
// HWIO weights and weight gradients, layouts inside chosen by oneDNN
// (format_tag::any), primitives created once in Create().
//
// ReLU: Conv2DParams::fuse_relu is ignored here. For a forward pass with
// fuse_relu, first mask the output gradient with MaskReluGradient
// (relu_backward.h), then pass it as grad_output.
//
// Thread safety: thread-compatible, as Conv2D.

#ifndef PARAMSERVER_KERNELS_CONV2D_BACKWARD_H_
#define PARAMSERVER_KERNELS_CONV2D_BACKWARD_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/conv2d_params.h"
#include "kernels/layout_bridge.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

class Conv2DBackwardData {
 public:
  // INVALID_ARGUMENT for bad shapes; UNIMPLEMENTED if oneDNN has no
  // implementation.
  static absl::StatusOr<std::unique_ptr<Conv2DBackwardData>> Create(
      const Conv2DParams& params);

  Conv2DBackwardData(const Conv2DBackwardData&) = delete;
  Conv2DBackwardData& operator=(const Conv2DBackwardData&) = delete;

  const Conv2DGeometry& geometry() const { return geometry_; }

  // As Conv2D::SetWeights: reorders and caches `weights_hwio` unless
  // `version` is the cached one. INVALID_ARGUMENT on a wrong size.
  absl::Status SetWeights(absl::Span<const float> weights_hwio,
                          int64_t version);

  // grad_input = dL/d(input) given grad_output = dL/d(conv output), both
  // NHWC. INVALID_ARGUMENT on wrong sizes, FAILED_PRECONDITION before
  // SetWeights.
  absl::Status Backward(absl::Span<const float> grad_output,
                        absl::Span<float> grad_input);

 private:
  Conv2DBackwardData(const Conv2DParams& params,
                     const Conv2DGeometry& geometry);
  void Init();  // Throws dnnl::error.

  // Constant after Create().
  const Conv2DParams params_;
  const Conv2DGeometry geometry_;
  dnnl::stream stream_;
  dnnl::convolution_backward_data primitive_;
  dnnl::memory scratchpad_;

  // Per-call and cached state.
  LayoutBridge grad_output_bridge_;
  LayoutBridge grad_input_bridge_;
  LayoutBridge weights_bridge_;  // kInCopy: owns the reordered weights.
  std::optional<int64_t> weights_version_;
};

class Conv2DBackwardWeights {
 public:
  // As Conv2DBackwardData::Create.
  static absl::StatusOr<std::unique_ptr<Conv2DBackwardWeights>> Create(
      const Conv2DParams& params);

  Conv2DBackwardWeights(const Conv2DBackwardWeights&) = delete;
  Conv2DBackwardWeights& operator=(const Conv2DBackwardWeights&) = delete;

  const Conv2DGeometry& geometry() const { return geometry_; }

  // Overwrites grad_weights (HWIO) with dL/d(weights) and grad_bias with
  // dL/d(bias), given the forward input (NHWC) and grad_output = dL/d(conv
  // output) (NHWC). INVALID_ARGUMENT on wrong sizes.
  absl::Status Backward(absl::Span<const float> input,
                        absl::Span<const float> grad_output,
                        absl::Span<float> grad_weights,
                        absl::Span<float> grad_bias);

 private:
  Conv2DBackwardWeights(const Conv2DParams& params,
                        const Conv2DGeometry& geometry);
  void Init();  // Throws dnnl::error.

  // Constant after Create().
  const Conv2DParams params_;
  const Conv2DGeometry geometry_;
  dnnl::stream stream_;
  dnnl::convolution_backward_weights primitive_;
  dnnl::memory scratchpad_;

  // Per-call state.
  LayoutBridge input_bridge_;
  LayoutBridge grad_output_bridge_;
  LayoutBridge grad_weights_bridge_;
  LayoutBridge grad_bias_bridge_;
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_CONV2D_BACKWARD_H_
