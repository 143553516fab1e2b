#include "kernels/conv2d.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "kernels/conv2d_descs.h"
#include "kernels/dnnl_util.h"
#include "kernels/tensor_checks.h"

namespace paramserver {
namespace kernels {

using Direction = LayoutBridge::Direction;

Conv2D::Conv2D(const Conv2DParams& params, const Conv2DGeometry& geometry)
    : params_(params), geometry_(geometry) {}

absl::StatusOr<std::unique_ptr<Conv2D>> Conv2D::Create(
    const Conv2DParams& params) {
  return CreateImpl(params, nullptr);
}

absl::StatusOr<std::unique_ptr<Conv2D>> Conv2D::CreateWithInputLayout(
    const Conv2DParams& params, const dnnl::memory::desc& input_layout) {
  return CreateImpl(params, &input_layout);
}

absl::StatusOr<std::unique_ptr<Conv2D>> Conv2D::CreateImpl(
    const Conv2DParams& params, const dnnl::memory::desc* input_layout) {
  absl::StatusOr<Conv2DGeometry> geometry = ComputeConv2DGeometry(params);
  if (!geometry.ok()) return geometry.status();
  if (input_layout != nullptr) {
    absl::Status s = CheckActivationDesc(
        *input_layout, {params.batch, params.in_c, params.in_h, params.in_w},
        "input_layout");
    if (!s.ok()) return s;
  }
  std::unique_ptr<Conv2D> conv(new Conv2D(params, *geometry));
  return CallDnnl("Conv2D::Create",
                  [&]() -> absl::StatusOr<std::unique_ptr<Conv2D>> {
                    conv->Init(input_layout);
                    return std::move(conv);
                  });
}

void Conv2D::Init(const dnnl::memory::desc* input_layout) {
  ScopedOmpThreads threads(params_.num_threads);
  ConvMemoryDescs any = AnyConvDescs(params_, geometry_);
  if (input_layout != nullptr) any.src = *input_layout;
  pd_ = dnnl::convolution_forward::primitive_desc(
      ForwardDesc(dnnl::prop_kind::forward_inference, params_, geometry_, any),
      ConvAttr(params_.fuse_relu), CpuEngine());
  primitive_ = dnnl::convolution_forward(pd_);
  stream_ = dnnl::stream(CpuEngine());
  input_desc_ = pd_.src_desc();
  output_desc_ = pd_.dst_desc();
  scratchpad_ = NewScratchpad(pd_.scratchpad_desc());

  const ConvMemoryDescs plain = PlainConvDescs(params_, geometry_);
  input_bridge_ = LayoutBridge(plain.src, input_desc_, Direction::kIn);
  output_bridge_ = LayoutBridge(plain.dst, output_desc_, Direction::kOut);
  weights_bridge_ =
      LayoutBridge(plain.weights, pd_.weights_desc(), Direction::kInCopy);
  bias_ = dnnl::memory(pd_.bias_desc(), CpuEngine());
  args_ = {{DNNL_ARG_WEIGHTS, weights_bridge_.chosen()},
           {DNNL_ARG_BIAS, bias_},
           {DNNL_ARG_SCRATCHPAD, scratchpad_}};
}

absl::Status Conv2D::SetWeights(absl::Span<const float> weights_hwio,
                                absl::Span<const float> bias, int64_t version) {
  if (weights_version_ == version) return absl::OkStatus();
  absl::Status s = CheckSpanSize(weights_hwio.size(), geometry_.weights_size,
                                 "weights_hwio");
  s.Update(CheckSpanSize(bias.size(), params_.out_c, "bias"));
  if (!s.ok()) return s;
  weights_version_.reset();  // Stays unset if the reorder fails.
  return CallDnnl("Conv2D::SetWeights", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    weights_bridge_.Import(weights_hwio.data(), stream_);
    stream_.wait();
    std::copy(bias.begin(), bias.end(),
              static_cast<float*>(bias_.get_data_handle()));
    weights_version_ = version;
    return absl::OkStatus();
  });
}

absl::Status Conv2D::CheckWeightsSet() const {
  if (weights_version_.has_value()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "Conv2D: SetWeights must succeed before Forward");
}

void Conv2D::Execute(const dnnl::memory& input, const dnnl::memory& output) {
  args_[DNNL_ARG_SRC] = input;
  args_[DNNL_ARG_DST] = output;
  primitive_.execute(stream_, args_);
}

absl::Status Conv2D::Forward(absl::Span<const float> input,
                             absl::Span<float> output) {
  absl::Status s = CheckWeightsSet();
  s.Update(CheckSpanSize(input.size(), geometry_.input_size, "input"));
  s.Update(CheckSpanSize(output.size(), geometry_.output_size, "output"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2D::Forward", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    const dnnl::memory& src = input_bridge_.Import(input.data(), stream_);
    Execute(src, output_bridge_.BindOutput(output.data()));
    output_bridge_.Export(stream_);
    stream_.wait();
    return absl::OkStatus();
  });
}

absl::Status Conv2D::ForwardToBlocked(absl::Span<const float> input,
                                      const dnnl::memory& output) {
  absl::Status s = CheckWeightsSet();
  s.Update(CheckSpanSize(input.size(), geometry_.input_size, "input"));
  s.Update(CheckBlockedMemory(output, output_desc_, "output"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2D::ForwardToBlocked", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    Execute(input_bridge_.Import(input.data(), stream_), output);
    stream_.wait();
    return absl::OkStatus();
  });
}

absl::Status Conv2D::ForwardFromBlocked(const dnnl::memory& input,
                                        absl::Span<float> output) {
  absl::Status s = CheckWeightsSet();
  s.Update(CheckBlockedMemory(input, input_desc_, "input"));
  s.Update(CheckSpanSize(output.size(), geometry_.output_size, "output"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2D::ForwardFromBlocked", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    Execute(input, output_bridge_.BindOutput(output.data()));
    output_bridge_.Export(stream_);
    stream_.wait();
    return absl::OkStatus();
  });
}

absl::Status Conv2D::ForwardBlocked(const dnnl::memory& input,
                                    const dnnl::memory& output) {
  absl::Status s = CheckWeightsSet();
  s.Update(CheckBlockedMemory(input, input_desc_, "input"));
  s.Update(CheckBlockedMemory(output, output_desc_, "output"));
  if (!s.ok()) return s;
  return CallDnnl("Conv2D::ForwardBlocked", [&] {
    ScopedOmpThreads threads(params_.num_threads);
    Execute(input, output);
    stream_.wait();
    return absl::OkStatus();
  });
}

}  // namespace kernels
}  // namespace paramserver
