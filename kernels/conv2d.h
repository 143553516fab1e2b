// Forward 2-D convolution with bias and optional ReLU fused, over oneDNN.
//
// The caller holds NHWC activations and HWIO weights (TF's layouts); oneDNN
// picks its own (usually channel-blocked) layouts via format_tag::any, and
// this class converts at the edges:
//   * weights are reordered into oneDNN's layout once per weight version
//     (SetWeights) and cached;
//   * the primitive, its scratchpad and the activation reorders are created
//     once, in Create();
//   * ForwardToBlocked / ForwardFromBlocked / ForwardBlocked keep activations
//     in oneDNN's layout so chained convolutions skip the NHWC round trip.
//
// Usage:
//   auto conv = Conv2D::Create(params);            // StatusOr
//   (*conv)->SetWeights(hwio, bias, /*version=*/7);
//   (*conv)->Forward(input_nhwc, output_nhwc);
//
// Thread safety: thread-compatible. Const methods may be called
// concurrently; every non-const method needs external synchronization (the
// object owns one stream, a scratchpad and the cached weights).

#ifndef PARAMSERVER_KERNELS_CONV2D_H_
#define PARAMSERVER_KERNELS_CONV2D_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/conv2d_params.h"
#include "kernels/layout_bridge.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

class Conv2D {
 public:
  // INVALID_ARGUMENT for bad shapes (see ComputeConv2DGeometry);
  // UNIMPLEMENTED if oneDNN has no implementation for them.
  static absl::StatusOr<std::unique_ptr<Conv2D>> Create(
      const Conv2DParams& params);

  // Like Create, but the input is in `input_layout` instead of a layout of
  // oneDNN's choosing: pass the blocked_output_desc() of the convolution
  // that feeds this one so the chain needs no reorder in between.
  // INVALID_ARGUMENT if `input_layout` does not have this input's shape.
  static absl::StatusOr<std::unique_ptr<Conv2D>> CreateWithInputLayout(
      const Conv2DParams& params, const dnnl::memory::desc& input_layout);

  Conv2D(const Conv2D&) = delete;
  Conv2D& operator=(const Conv2D&) = delete;

  const Conv2DParams& params() const { return params_; }
  const Conv2DGeometry& geometry() const { return geometry_; }

  // Caches `weights_hwio` (geometry().weights_size floats) and `bias`
  // (out_c floats) in oneDNN's layout. If `version` equals the cached
  // version this is a no-op and the arguments are not read, so callers may
  // call it before every step. The caller's buffers are not retained.
  // INVALID_ARGUMENT on wrong sizes.
  absl::Status SetWeights(absl::Span<const float> weights_hwio,
                          absl::Span<const float> bias, int64_t version);

  // output = [relu](conv(input, weights) + bias), NHWC in and out.
  // INVALID_ARGUMENT if the spans have the wrong sizes; FAILED_PRECONDITION
  // if SetWeights has not been called.
  absl::Status Forward(absl::Span<const float> input, absl::Span<float> output);

  // Layouts oneDNN chose for the activations.
  const dnnl::memory::desc& blocked_input_desc() const { return input_desc_; }
  const dnnl::memory::desc& blocked_output_desc() const { return output_desc_; }

  // Variants with one or both activations in the blocked layouts above.
  // A blocked argument must be memory on CpuEngine() with exactly that
  // descriptor (else INVALID_ARGUMENT); allocate one with
  // dnnl::memory(desc, CpuEngine()).
  absl::Status ForwardToBlocked(absl::Span<const float> input,
                                const dnnl::memory& output);
  absl::Status ForwardFromBlocked(const dnnl::memory& input,
                                  absl::Span<float> output);
  absl::Status ForwardBlocked(const dnnl::memory& input,
                              const dnnl::memory& output);

 private:
  Conv2D(const Conv2DParams& params, const Conv2DGeometry& geometry);
  static absl::StatusOr<std::unique_ptr<Conv2D>> CreateImpl(
      const Conv2DParams& params, const dnnl::memory::desc* input_layout);
  void Init(const dnnl::memory::desc* input_layout);  // Throws dnnl::error.

  // FAILED_PRECONDITION until SetWeights has succeeded.
  absl::Status CheckWeightsSet() const;
  // Enqueues the convolution on stream_; throws dnnl::error.
  void Execute(const dnnl::memory& input, const dnnl::memory& output);

  // Constant after Create().
  const Conv2DParams params_;
  const Conv2DGeometry geometry_;
  dnnl::stream stream_;
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward primitive_;
  dnnl::memory::desc input_desc_;
  dnnl::memory::desc output_desc_;
  dnnl::memory scratchpad_;

  // Per-call state. Arguments of the primitive (Execute() swaps in src and
  // dst, so steady-state calls allocate nothing) and the caller's buffers.
  std::unordered_map<int, dnnl::memory> args_;
  LayoutBridge input_bridge_;
  LayoutBridge output_bridge_;

  // Cached weights in oneDNN's layout.
  LayoutBridge weights_bridge_;  // kInCopy: owns the reordered weights.
  dnnl::memory bias_;
  std::optional<int64_t> weights_version_;
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_CONV2D_H_
