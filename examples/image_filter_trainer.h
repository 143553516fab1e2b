#ifndef PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_
#define PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_

// Loss and gradients of the image filter (conv1 -> ReLU -> conv2 -> ReLU,
// 5x5, SAME, stride 1) for mean squared error against target images, with
// the oneDNN kernels: what a worker computes locally between a pull and a
// push.

#include <array>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_backward.h"

namespace paramserver {

struct TrainerShape {
  int64_t batch = 4;
  int64_t size = 32;  // Height and width.
  int64_t channels = 32;
  int64_t kernel = 5;
  int num_threads = 1;  // oneDNN threads; 0 for all cores.
};

// conv1 weights (HWIO), conv1 biases, conv2 weights, conv2 biases.
using FilterTensors = std::array<std::vector<float>, 4>;
using FilterViews = std::array<absl::Span<const float>, 4>;

// Thread-compatible: one per worker thread.
class ImageFilterTrainer {
 public:
  static absl::StatusOr<std::unique_ptr<ImageFilterTrainer>> Create(
      const TrainerShape& shape);

  int64_t image_elements() const;  // batch * size * size * channels

  // The filter's output for `images`, with weights at local `version`
  // (weights are re-read only when it changes).
  absl::Status Forward(const FilterViews& weights, int64_t version,
                       absl::Span<const float> images, absl::Span<float> output);

  // Mean squared error of the filter's output against `targets`, and its
  // gradients with respect to the four tensors, written to `gradients`.
  absl::StatusOr<double> LossAndGradients(const FilterViews& weights,
                                          int64_t version,
                                          absl::Span<const float> images,
                                          absl::Span<const float> targets,
                                          FilterTensors* gradients);

 private:
  ImageFilterTrainer() = default;
  absl::Status SetWeights(const FilterViews& weights, int64_t version);

  std::unique_ptr<kernels::Conv2D> conv1_, conv2_;
  std::unique_ptr<kernels::Conv2DBackwardData> conv2_data_;
  std::unique_ptr<kernels::Conv2DBackwardWeights> conv1_weights_, conv2_weights_;
  std::vector<float> relu1_, output_, grad_output_, grad_relu1_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_
