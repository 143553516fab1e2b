#ifndef PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_
#define PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_

// Loss and gradients of the image filter (conv1 -> ReLU -> conv2 -> ReLU,
// 5x5, SAME, stride 1) for mean squared error against target images, with
// the oneDNN kernels: what a worker computes locally between a pull and a
// push. The step itself is kernels::ImageFilterTraining (blocked layouts
// throughout); this class adapts it to the worker's tensors.

#include <array>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/image_filter_training.h"

namespace paramserver {

struct TrainerShape {
  int64_t batch = 4;
  int64_t size = 32;  // Height and width.
  int64_t channels = 32;
  int64_t kernel = 5;
  // oneDNN threads; 0 for all cores. With 2 or more, results differ from
  // one thread's only in float summation order (ImageFilterTraining).
  int num_threads = 1;
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
                       absl::Span<const float> images,
                       absl::Span<float> output);

  // Mean squared error of the filter's output against `targets`, and its
  // gradients with respect to the four tensors, written to `gradients`
  // (resized to the tensors' sizes). INVALID_ARGUMENT on wrong sizes.
  absl::StatusOr<double> LossAndGradients(const FilterViews& weights,
                                          int64_t version,
                                          absl::Span<const float> images,
                                          absl::Span<const float> targets,
                                          FilterTensors* gradients);

 private:
  explicit ImageFilterTrainer(
      std::unique_ptr<kernels::ImageFilterTraining> step)
      : step_(std::move(step)) {}
  absl::Status SetWeights(const FilterViews& weights, int64_t version);

  std::unique_ptr<kernels::ImageFilterTraining> step_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TRAINER_H_
