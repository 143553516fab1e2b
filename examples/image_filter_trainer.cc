#include "examples/image_filter_trainer.h"

#include "absl/status/status.h"
#include "kernels/relu_backward.h"

namespace paramserver {
namespace {

kernels::Conv2DParams LayerParams(const TrainerShape& shape) {
  kernels::Conv2DParams params;
  params.batch = shape.batch;
  params.in_h = params.in_w = shape.size;
  params.in_c = params.out_c = shape.channels;
  params.kernel_h = params.kernel_w = shape.kernel;
  params.padding = kernels::Padding::kSame;
  params.fuse_relu = true;
  params.num_threads = shape.num_threads;
  return params;
}

template <typename T>
absl::Status Assign(absl::StatusOr<std::unique_ptr<T>> created,
                    std::unique_ptr<T>* out) {
  if (!created.ok()) return created.status();
  *out = *std::move(created);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageFilterTrainer>> ImageFilterTrainer::Create(
    const TrainerShape& shape) {
  std::unique_ptr<ImageFilterTrainer> trainer(new ImageFilterTrainer());
  const kernels::Conv2DParams params = LayerParams(shape);
  for (absl::Status s :
       {Assign(kernels::Conv2D::Create(params), &trainer->conv1_),
        Assign(kernels::Conv2D::Create(params), &trainer->conv2_),
        Assign(kernels::Conv2DBackwardData::Create(params), &trainer->conv2_data_),
        Assign(kernels::Conv2DBackwardWeights::Create(params), &trainer->conv1_weights_),
        Assign(kernels::Conv2DBackwardWeights::Create(params), &trainer->conv2_weights_)}) {
    if (!s.ok()) return s;
  }
  const int64_t n = trainer->image_elements();
  trainer->relu1_.resize(n);
  trainer->output_.resize(n);
  trainer->grad_output_.resize(n);
  trainer->grad_relu1_.resize(n);
  return trainer;
}

int64_t ImageFilterTrainer::image_elements() const {
  return conv1_->geometry().input_size;
}

absl::Status ImageFilterTrainer::SetWeights(const FilterViews& w, int64_t version) {
  if (absl::Status s = conv1_->SetWeights(w[0], w[1], version); !s.ok()) return s;
  if (absl::Status s = conv2_->SetWeights(w[2], w[3], version); !s.ok()) return s;
  return conv2_data_->SetWeights(w[2], version);
}

absl::Status ImageFilterTrainer::Forward(const FilterViews& weights,
                                         int64_t version,
                                         absl::Span<const float> images,
                                         absl::Span<float> output) {
  if (absl::Status s = SetWeights(weights, version); !s.ok()) return s;
  if (absl::Status s = conv1_->Forward(images, absl::MakeSpan(relu1_)); !s.ok()) {
    return s;
  }
  return conv2_->Forward(relu1_, output);
}

absl::StatusOr<double> ImageFilterTrainer::LossAndGradients(
    const FilterViews& weights, int64_t version, absl::Span<const float> images,
    absl::Span<const float> targets, FilterTensors* gradients) {
  if (targets.size() != output_.size()) {
    return absl::InvalidArgumentError("targets must match the output's size");
  }
  if (absl::Status s = Forward(weights, version, images, absl::MakeSpan(output_));
      !s.ok()) {
    return s;
  }
  // loss = mean((output - target)^2); dloss/doutput = 2 (output - target) / n.
  const double n = static_cast<double>(output_.size());
  double loss = 0;
  for (size_t i = 0; i < output_.size(); ++i) {
    const double diff = output_[i] - targets[i];
    loss += diff * diff;
    grad_output_[i] = static_cast<float>(2 * diff / n);
  }
  for (size_t i = 0; i < 4; ++i) (*gradients)[i].resize(weights[i].size());
  // Back through ReLU 2, conv2 (weights and data), ReLU 1, conv1 (weights).
  absl::Status s = kernels::MaskReluGradient(output_, absl::MakeSpan(grad_output_));
  if (s.ok()) {
    s = conv2_weights_->Backward(relu1_, grad_output_, absl::MakeSpan((*gradients)[2]),
                                 absl::MakeSpan((*gradients)[3]));
  }
  if (s.ok()) s = conv2_data_->Backward(grad_output_, absl::MakeSpan(grad_relu1_));
  if (s.ok()) s = kernels::MaskReluGradient(relu1_, absl::MakeSpan(grad_relu1_));
  if (s.ok()) {
    s = conv1_weights_->Backward(images, grad_relu1_, absl::MakeSpan((*gradients)[0]),
                                 absl::MakeSpan((*gradients)[1]));
  }
  if (!s.ok()) return s;
  return loss / n;
}

}  // namespace paramserver
