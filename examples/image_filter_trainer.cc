#include "examples/image_filter_trainer.h"

#include "absl/status/status.h"

namespace paramserver {

absl::StatusOr<std::unique_ptr<ImageFilterTrainer>> ImageFilterTrainer::Create(
    const TrainerShape& shape) {
  kernels::ImageFilterParams params;
  params.batch = shape.batch;
  params.height = params.width = shape.size;
  params.channels = shape.channels;
  params.kernel = shape.kernel;
  params.num_threads = shape.num_threads;
  absl::StatusOr<std::unique_ptr<kernels::ImageFilterTraining>> step =
      kernels::ImageFilterTraining::Create(params);
  if (!step.ok()) return step.status();
  return std::unique_ptr<ImageFilterTrainer>(
      new ImageFilterTrainer(*std::move(step)));
}

int64_t ImageFilterTrainer::image_elements() const {
  return step_->image_elements();
}

absl::Status ImageFilterTrainer::SetWeights(const FilterViews& w,
                                            int64_t version) {
  return step_->SetWeights(w[0], w[1], w[2], w[3], version);
}

absl::Status ImageFilterTrainer::Forward(const FilterViews& weights,
                                         int64_t version,
                                         absl::Span<const float> images,
                                         absl::Span<float> output) {
  if (absl::Status s = SetWeights(weights, version); !s.ok()) return s;
  return step_->Forward(images, output);
}

absl::StatusOr<double> ImageFilterTrainer::LossAndGradients(
    const FilterViews& weights, int64_t version, absl::Span<const float> images,
    absl::Span<const float> targets, FilterTensors* gradients) {
  if (absl::Status s = SetWeights(weights, version); !s.ok()) return s;
  kernels::FilterGradients spans;
  for (size_t i = 0; i < 4; ++i) {
    (*gradients)[i].resize(weights[i].size());
    spans[i] = absl::MakeSpan((*gradients)[i]);
  }
  return step_->LossAndGradients(images, targets, spans);
}

}  // namespace paramserver
