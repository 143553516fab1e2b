#include "kernels/image_filter_training.h"

#include <omp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "kernels/conv2d_descs.h"
#include "kernels/dnnl_util.h"
#include "kernels/mse_loss.h"
#include "kernels/relu_backward.h"
#include "kernels/tensor_checks.h"

namespace paramserver {
namespace kernels {
namespace {

using Direction = LayoutBridge::Direction;
using dnnl::memory;

Conv2DParams LayerParams(const ImageFilterParams& p) {
  Conv2DParams c;
  c.batch = p.batch;
  c.in_h = p.height;
  c.in_w = p.width;
  c.in_c = c.out_c = p.channels;
  c.kernel_h = c.kernel_w = p.kernel;
  c.padding = Padding::kSame;
  c.fuse_relu = true;
  c.num_threads = p.num_threads;
  return c;
}

// The floats of `m`, padding included (a blocked layout may pad channels).
absl::Span<float> Floats(const memory& m) {
  return absl::MakeSpan(static_cast<float*>(m.get_data_handle()),
                        m.get_desc().get_size() / sizeof(float));
}

// Descriptors for a backward primitive: activations pinned to the forward
// primitive's layouts, weights left to oneDNN.
ConvMemoryDescs PinnedDescs(
    const Conv2DParams& p, const Conv2DGeometry& g,
    const dnnl::convolution_forward::primitive_desc& fwd) {
  ConvMemoryDescs d = AnyConvDescs(p, g);
  d.src = fwd.src_desc();
  d.dst = fwd.dst_desc();
  return d;
}

}  // namespace

struct ImageFilterTraining::Primitives {
  Conv2DParams params;
  Conv2DGeometry geometry;
  bool concurrent = false;  // conv2's two backward passes at once.
  dnnl::stream stream, helper_stream;
  dnnl::convolution_forward::primitive_desc fwd1_pd, fwd2_pd;
  dnnl::convolution_forward fwd1, fwd2;
  dnnl::convolution_backward_data data2;
  dnnl::convolution_backward_weights weights1, weights2;
  memory scratch_fwd1, scratch_fwd2, scratch_data2, scratch_weights1,
      scratch_weights2;
  // Activations and their gradients, in the forward primitives' layouts.
  memory relu1, output, grad_output, grad_relu1;
  memory bias1, bias2;
  memory output_nhwc;  // Wraps Forward()'s caller buffer.
  dnnl::reorder output_to_nhwc;
  LayoutBridge input, targets;
  LayoutBridge weights1_fwd, weights2_fwd, weights2_data;  // kInCopy.
  LayoutBridge grad_weights1, grad_weights2, grad_bias1, grad_bias2;  // kOut.
};

ImageFilterTraining::ImageFilterTraining(const ImageFilterParams& params)
    : params_(params) {}

ImageFilterTraining::~ImageFilterTraining() = default;

absl::StatusOr<std::unique_ptr<ImageFilterTraining>>
ImageFilterTraining::Create(const ImageFilterParams& params) {
  if (params.num_threads < 0) {
    return absl::InvalidArgumentError("num_threads must be >= 0");
  }
  absl::StatusOr<Conv2DGeometry> geometry =
      ComputeConv2DGeometry(LayerParams(params));
  if (!geometry.ok()) return geometry.status();
  std::unique_ptr<ImageFilterTraining> training(
      new ImageFilterTraining(params));
  training->image_elements_ = geometry->input_size;
  training->weights_elements_ = geometry->weights_size;
  training->p_ = std::make_unique<Primitives>();
  training->p_->params = LayerParams(params);
  training->p_->geometry = *geometry;
  absl::Status s = CallDnnl("ImageFilterTraining::Create", [&] {
    training->Init();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return training;
}

void ImageFilterTraining::Init() {
  Primitives& p = *p_;
  const Conv2DParams& c = p.params;
  const Conv2DGeometry& g = p.geometry;
  // num_threads == 0 means the OpenMP default, as for the primitives.
  const int threads = c.num_threads > 0 ? c.num_threads : omp_get_max_threads();
  p.concurrent = threads >= 2;
  {
    // oneDNN fixes a primitive's thread count when it is created.
    ScopedOmpThreads scoped(c.num_threads);
    ConvMemoryDescs any = AnyConvDescs(c, g);
    p.fwd1_pd = dnnl::convolution_forward::primitive_desc(
        ForwardDesc(dnnl::prop_kind::forward_training, c, g, any),
        ConvAttr(/*fuse_relu=*/true), CpuEngine());
    any.src = p.fwd1_pd.dst_desc();
    p.fwd2_pd = dnnl::convolution_forward::primitive_desc(
        ForwardDesc(dnnl::prop_kind::forward_training, c, g, any),
        ConvAttr(/*fuse_relu=*/true), CpuEngine());
    const dnnl::convolution_backward_weights::primitive_desc w1_pd(
        BackwardWeightsDesc(c, g, PinnedDescs(c, g, p.fwd1_pd)),
        ConvAttr(false), CpuEngine(), p.fwd1_pd);
    p.fwd1 = dnnl::convolution_forward(p.fwd1_pd);
    p.fwd2 = dnnl::convolution_forward(p.fwd2_pd);
    p.weights1 = dnnl::convolution_backward_weights(w1_pd);
    p.scratch_weights1 = NewScratchpad(w1_pd.scratchpad_desc());
    const ConvMemoryDescs plain = PlainConvDescs(c, g);
    p.grad_weights1 =
        LayoutBridge(plain.weights, w1_pd.diff_weights_desc(), Direction::kOut);
    p.grad_bias1 =
        LayoutBridge(plain.bias, w1_pd.diff_bias_desc(), Direction::kOut);
  }
  ScopedOmpThreads scoped(p.concurrent ? 1 : c.num_threads);
  const ConvMemoryDescs pinned2 = PinnedDescs(c, g, p.fwd2_pd);
  const dnnl::convolution_backward_data::primitive_desc d2_pd(
      BackwardDataDesc(c, g, pinned2), ConvAttr(false), CpuEngine(), p.fwd2_pd);
  const dnnl::convolution_backward_weights::primitive_desc w2_pd(
      BackwardWeightsDesc(c, g, pinned2), ConvAttr(false), CpuEngine(),
      p.fwd2_pd);
  p.data2 = dnnl::convolution_backward_data(d2_pd);
  p.weights2 = dnnl::convolution_backward_weights(w2_pd);

  p.stream = dnnl::stream(CpuEngine());
  p.helper_stream = dnnl::stream(CpuEngine());
  p.scratch_fwd1 = NewScratchpad(p.fwd1_pd.scratchpad_desc());
  p.scratch_fwd2 = NewScratchpad(p.fwd2_pd.scratchpad_desc());
  p.scratch_data2 = NewScratchpad(d2_pd.scratchpad_desc());
  p.scratch_weights2 = NewScratchpad(w2_pd.scratchpad_desc());
  p.relu1 = memory(p.fwd1_pd.dst_desc(), CpuEngine());
  p.grad_relu1 = memory(p.fwd1_pd.dst_desc(), CpuEngine());
  p.output = memory(p.fwd2_pd.dst_desc(), CpuEngine());
  p.grad_output = memory(p.fwd2_pd.dst_desc(), CpuEngine());
  p.bias1 = memory(p.fwd1_pd.bias_desc(), CpuEngine());
  p.bias2 = memory(p.fwd2_pd.bias_desc(), CpuEngine());

  const ConvMemoryDescs plain = PlainConvDescs(c, g);
  p.output_nhwc = memory(plain.dst, CpuEngine(), DNNL_MEMORY_NONE);
  p.output_to_nhwc = dnnl::reorder(p.output, p.output_nhwc);
  p.input = LayoutBridge(plain.src, p.fwd1_pd.src_desc(), Direction::kIn);
  p.targets = LayoutBridge(plain.dst, p.fwd2_pd.dst_desc(), Direction::kIn);
  p.weights1_fwd =
      LayoutBridge(plain.weights, p.fwd1_pd.weights_desc(), Direction::kInCopy);
  p.weights2_fwd =
      LayoutBridge(plain.weights, p.fwd2_pd.weights_desc(), Direction::kInCopy);
  p.weights2_data =
      LayoutBridge(plain.weights, d2_pd.weights_desc(), Direction::kInCopy);
  p.grad_weights2 =
      LayoutBridge(plain.weights, w2_pd.diff_weights_desc(), Direction::kOut);
  p.grad_bias2 =
      LayoutBridge(plain.bias, w2_pd.diff_bias_desc(), Direction::kOut);
}

absl::Status ImageFilterTraining::SetWeights(absl::Span<const float> weights1,
                                             absl::Span<const float> bias1,
                                             absl::Span<const float> weights2,
                                             absl::Span<const float> bias2,
                                             int64_t version) {
  if (weights_version_ == version) return absl::OkStatus();
  absl::Status s =
      CheckSpanSize(weights1.size(), weights_elements_, "weights1");
  s.Update(CheckSpanSize(weights2.size(), weights_elements_, "weights2"));
  s.Update(CheckSpanSize(bias1.size(), params_.channels, "bias1"));
  s.Update(CheckSpanSize(bias2.size(), params_.channels, "bias2"));
  if (!s.ok()) return s;
  weights_version_.reset();  // Stays unset if a reorder fails.
  return CallDnnl("ImageFilterTraining::SetWeights", [&] {
    Primitives& p = *p_;
    ScopedOmpThreads scoped(params_.num_threads);
    p.weights1_fwd.Import(weights1.data(), p.stream);
    p.weights2_fwd.Import(weights2.data(), p.stream);
    p.weights2_data.Import(weights2.data(), p.stream);
    p.stream.wait();
    std::copy(bias1.begin(), bias1.end(), Floats(p.bias1).begin());
    std::copy(bias2.begin(), bias2.end(), Floats(p.bias2).begin());
    weights_version_ = version;
    return absl::OkStatus();
  });
}

absl::Status ImageFilterTraining::CheckArguments(
    absl::Span<const float> input, absl::Span<const float> targets,
    const FilterGradients* gradients) const {
  absl::Status s = weights_version_.has_value()
                       ? absl::OkStatus()
                       : absl::FailedPreconditionError(
                             "ImageFilterTraining: SetWeights must succeed "
                             "first");
  s.Update(CheckSpanSize(input.size(), image_elements_, "input"));
  s.Update(CheckSpanSize(targets.size(), image_elements_, "targets"));
  if (gradients != nullptr) {
    const int64_t sizes[4] = {weights_elements_, params_.channels,
                              weights_elements_, params_.channels};
    for (int i = 0; i < 4; ++i) {
      s.Update(CheckSpanSize((*gradients)[i].size(), sizes[i], "gradients"));
    }
  }
  return s;
}

void ImageFilterTraining::RunForward(absl::Span<const float> input) {
  Primitives& p = *p_;
  p.fwd1.execute(p.stream,
                 {{DNNL_ARG_SRC, p.input.Import(input.data(), p.stream)},
                  {DNNL_ARG_WEIGHTS, p.weights1_fwd.chosen()},
                  {DNNL_ARG_BIAS, p.bias1},
                  {DNNL_ARG_DST, p.relu1},
                  {DNNL_ARG_SCRATCHPAD, p.scratch_fwd1}});
  p.fwd2.execute(p.stream, {{DNNL_ARG_SRC, p.relu1},
                            {DNNL_ARG_WEIGHTS, p.weights2_fwd.chosen()},
                            {DNNL_ARG_BIAS, p.bias2},
                            {DNNL_ARG_DST, p.output},
                            {DNNL_ARG_SCRATCHPAD, p.scratch_fwd2}});
}

absl::Status ImageFilterTraining::Forward(absl::Span<const float> input,
                                          absl::Span<float> output) {
  absl::Status s = CheckArguments(input, output, nullptr);
  if (!s.ok()) return s;
  return CallDnnl("ImageFilterTraining::Forward", [&] {
    Primitives& p = *p_;
    ScopedOmpThreads scoped(params_.num_threads);
    RunForward(input);
    p.output_nhwc.set_data_handle(output.data());
    p.output_to_nhwc.execute(p.stream, p.output, p.output_nhwc);
    p.stream.wait();
    return absl::OkStatus();
  });
}

double ImageFilterTraining::RunLoss(absl::Span<const float> targets) {
  Primitives& p = *p_;
  const memory& blocked_targets = p.targets.Import(targets.data(), p.stream);
  p.stream.wait();
  const float scale = 2.0f / static_cast<float>(image_elements_);
  // Sizes match by construction (all three share the output's descriptor).
  return *MseLossAndReluGradient(Floats(p.output), Floats(blocked_targets),
                                 scale, Floats(p.grad_output));
}

void ImageFilterTraining::RunConv2Backward(const FilterGradients& gradients) {
  Primitives& p = *p_;
  const auto data_gradient = [&p] {
    p.data2.execute(p.helper_stream,
                    {{DNNL_ARG_DIFF_DST, p.grad_output},
                     {DNNL_ARG_WEIGHTS, p.weights2_data.chosen()},
                     {DNNL_ARG_DIFF_SRC, p.grad_relu1},
                     {DNNL_ARG_SCRATCHPAD, p.scratch_data2}});
    p.helper_stream.wait();
    // Sizes match by construction: both have relu1's descriptor.
    MaskReluGradient(Floats(p.relu1), Floats(p.grad_relu1)).IgnoreError();
  };
  std::thread helper;
  std::optional<dnnl::error> helper_error;
  if (p.concurrent) {
    helper = std::thread([&] {
      ScopedOmpThreads scoped(1);
      try {
        data_gradient();
      } catch (const dnnl::error& e) {
        helper_error = e;
      }
    });
  }
  try {
    p.weights2.execute(
        p.stream,
        {{DNNL_ARG_SRC, p.relu1},
         {DNNL_ARG_DIFF_DST, p.grad_output},
         {DNNL_ARG_DIFF_WEIGHTS,
          p.grad_weights2.BindOutput(gradients[2].data())},
         {DNNL_ARG_DIFF_BIAS, p.grad_bias2.BindOutput(gradients[3].data())},
         {DNNL_ARG_SCRATCHPAD, p.scratch_weights2}});
    p.grad_weights2.Export(p.stream);
    p.grad_bias2.Export(p.stream);
    p.stream.wait();
  } catch (...) {
    if (helper.joinable()) helper.join();
    throw;
  }
  if (helper.joinable()) helper.join();
  if (helper_error.has_value()) throw *helper_error;
  if (!p.concurrent) data_gradient();
}

void ImageFilterTraining::RunConv1Backward(const FilterGradients& gradients) {
  Primitives& p = *p_;
  p.weights1.execute(
      p.stream,
      {{DNNL_ARG_SRC, p.input.chosen()},
       {DNNL_ARG_DIFF_DST, p.grad_relu1},
       {DNNL_ARG_DIFF_WEIGHTS, p.grad_weights1.BindOutput(gradients[0].data())},
       {DNNL_ARG_DIFF_BIAS, p.grad_bias1.BindOutput(gradients[1].data())},
       {DNNL_ARG_SCRATCHPAD, p.scratch_weights1}});
  p.grad_weights1.Export(p.stream);
  p.grad_bias1.Export(p.stream);
  p.stream.wait();
}

absl::StatusOr<double> ImageFilterTraining::LossAndGradients(
    absl::Span<const float> input, absl::Span<const float> targets,
    const FilterGradients& gradients) {
  absl::Status s = CheckArguments(input, targets, &gradients);
  if (!s.ok()) return s;
  return CallDnnl("ImageFilterTraining::LossAndGradients",
                  [&]() -> absl::StatusOr<double> {
                    ScopedOmpThreads scoped(params_.num_threads);
                    RunForward(input);
                    const double sum = RunLoss(targets);
                    RunConv2Backward(gradients);
                    RunConv1Backward(gradients);
                    return sum / static_cast<double>(image_elements_);
                  });
}

double ImageFilterTraining::StepFlops() const {
  return 5 * Conv2DFlops(p_->params, p_->geometry);
}

}  // namespace kernels
}  // namespace paramserver
