#include "kernels/conv2d_backward.h"

#include "kernels/conv2d_descs.h"
#include "kernels/dnnl_util.h"
#include "kernels/tensor_checks.h"

namespace paramserver {
namespace kernels {
namespace {

using Direction = LayoutBridge::Direction;

// oneDNN's backward primitives take the forward primitive descriptor as a
// hint for matching implementations.
dnnl::convolution_forward::primitive_desc ForwardHint(const Conv2DParams& p,
                                                      const Conv2DGeometry& g) {
  return dnnl::convolution_forward::primitive_desc(
      ForwardDesc(dnnl::prop_kind::forward_training, p, g, AnyConvDescs(p, g)),
      CpuEngine());
}

}  // namespace

// ---------------------------------------------------------------------------
// Conv2DBackwardData

Conv2DBackwardData::Conv2DBackwardData(const Conv2DParams& params,
                                       const Conv2DGeometry& geometry)
    : params_(params), geometry_(geometry) {}

absl::StatusOr<std::unique_ptr<Conv2DBackwardData>> Conv2DBackwardData::Create(
    const Conv2DParams& params) {
  absl::StatusOr<Conv2DGeometry> geometry = ComputeConv2DGeometry(params);
  if (!geometry.ok()) return geometry.status();
  std::unique_ptr<Conv2DBackwardData> object(
      new Conv2DBackwardData(params, *geometry));
  absl::Status s = CallDnnl("Conv2DBackwardData::Create", [&] {
    ScopedOmpThreads threads(params.num_threads);
    object->Init();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return object;
}

void Conv2DBackwardData::Init() {
  const dnnl::convolution_backward_data::primitive_desc pd(
      BackwardDataDesc(params_, geometry_, AnyConvDescs(params_, geometry_)),
      ConvAttr(/*fuse_relu=*/false), CpuEngine(),
      ForwardHint(params_, geometry_));
  primitive_ = dnnl::convolution_backward_data(pd);
  stream_ = dnnl::stream(CpuEngine());
  scratchpad_ = NewScratchpad(pd.scratchpad_desc());
  const ConvMemoryDescs plain = PlainConvDescs(params_, geometry_);
  grad_output_bridge_ =
      LayoutBridge(plain.dst, pd.diff_dst_desc(), Direction::kIn);
  grad_input_bridge_ =
      LayoutBridge(plain.src, pd.diff_src_desc(), Direction::kOut);
  weights_bridge_ =
      LayoutBridge(plain.weights, pd.weights_desc(), Direction::kInCopy);
}

absl::Status Conv2DBackwardData::SetWeights(
    absl::Span<const float> weights_hwio, int64_t version) {
  if (weights_version_ == version) return absl::OkStatus();
  absl::Status s = CheckSpanSize(weights_hwio.size(), geometry_.weights_size,
                                 "weights_hwio");
  if (!s.ok()) return s;
  weights_version_.reset();  // Stays unset if the reorder fails.
  return CallDnnl("Conv2DBackwardData::SetWeights", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    weights_bridge_.Import(weights_hwio.data(), stream_);
    stream_.wait();
    weights_version_ = version;
    return absl::OkStatus();
  });
}

absl::Status Conv2DBackwardData::Backward(absl::Span<const float> grad_output,
                                          absl::Span<float> grad_input) {
  absl::Status s = weights_version_.has_value()
                       ? absl::OkStatus()
                       : absl::FailedPreconditionError(
                             "Conv2DBackwardData: SetWeights must succeed "
                             "before Backward");
  s.Update(
      CheckSpanSize(grad_output.size(), geometry_.output_size, "grad_output"));
  s.Update(
      CheckSpanSize(grad_input.size(), geometry_.input_size, "grad_input"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2DBackwardData::Backward", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    primitive_.execute(
        stream_,
        {{DNNL_ARG_DIFF_DST,
          grad_output_bridge_.Import(grad_output.data(), stream_)},
         {DNNL_ARG_WEIGHTS, weights_bridge_.chosen()},
         {DNNL_ARG_DIFF_SRC, grad_input_bridge_.BindOutput(grad_input.data())},
         {DNNL_ARG_SCRATCHPAD, scratchpad_}});
    grad_input_bridge_.Export(stream_);
    stream_.wait();
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Conv2DBackwardWeights

Conv2DBackwardWeights::Conv2DBackwardWeights(const Conv2DParams& params,
                                             const Conv2DGeometry& geometry)
    : params_(params), geometry_(geometry) {}

absl::StatusOr<std::unique_ptr<Conv2DBackwardWeights>>
Conv2DBackwardWeights::Create(const Conv2DParams& params) {
  absl::StatusOr<Conv2DGeometry> geometry = ComputeConv2DGeometry(params);
  if (!geometry.ok()) return geometry.status();
  std::unique_ptr<Conv2DBackwardWeights> object(
      new Conv2DBackwardWeights(params, *geometry));
  absl::Status s = CallDnnl("Conv2DBackwardWeights::Create", [&] {
    ScopedOmpThreads threads(params.num_threads);
    object->Init();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return object;
}

void Conv2DBackwardWeights::Init() {
  const dnnl::convolution_backward_weights::primitive_desc pd(
      BackwardWeightsDesc(params_, geometry_, AnyConvDescs(params_, geometry_)),
      ConvAttr(/*fuse_relu=*/false), CpuEngine(),
      ForwardHint(params_, geometry_));
  primitive_ = dnnl::convolution_backward_weights(pd);
  stream_ = dnnl::stream(CpuEngine());
  scratchpad_ = NewScratchpad(pd.scratchpad_desc());
  const ConvMemoryDescs plain = PlainConvDescs(params_, geometry_);
  input_bridge_ = LayoutBridge(plain.src, pd.src_desc(), Direction::kIn);
  grad_output_bridge_ =
      LayoutBridge(plain.dst, pd.diff_dst_desc(), Direction::kIn);
  grad_weights_bridge_ =
      LayoutBridge(plain.weights, pd.diff_weights_desc(), Direction::kOut);
  grad_bias_bridge_ =
      LayoutBridge(plain.bias, pd.diff_bias_desc(), Direction::kOut);
}

absl::Status Conv2DBackwardWeights::Backward(
    absl::Span<const float> input, absl::Span<const float> grad_output,
    absl::Span<float> grad_weights, absl::Span<float> grad_bias) {
  absl::Status s = CheckSpanSize(input.size(), geometry_.input_size, "input");
  s.Update(
      CheckSpanSize(grad_output.size(), geometry_.output_size, "grad_output"));
  s.Update(CheckSpanSize(grad_weights.size(), geometry_.weights_size,
                         "grad_weights"));
  s.Update(CheckSpanSize(grad_bias.size(), params_.out_c, "grad_bias"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2DBackwardWeights::Backward", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    primitive_.execute(
        stream_,
        {{DNNL_ARG_SRC, input_bridge_.Import(input.data(), stream_)},
         {DNNL_ARG_DIFF_DST,
          grad_output_bridge_.Import(grad_output.data(), stream_)},
         {DNNL_ARG_DIFF_WEIGHTS,
          grad_weights_bridge_.BindOutput(grad_weights.data())},
         {DNNL_ARG_DIFF_BIAS, grad_bias_bridge_.BindOutput(grad_bias.data())},
         {DNNL_ARG_SCRATCHPAD, scratchpad_}});
    grad_weights_bridge_.Export(stream_);
    grad_bias_bridge_.Export(stream_);
    stream_.wait();
    return absl::OkStatus();
  });
}

}  // namespace kernels
}  // namespace paramserver
