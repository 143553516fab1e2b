// A training step of the image filter (conv1 -> ReLU -> conv2 -> ReLU, as
// ImageFilterNet) with the mean squared error against target images: the
// forward pass, the loss and the gradients of all four tensors, kept in
// oneDNN's blocked layouts from the input to the weight gradients.
//
// Layout plan, fixed in Create():
//   * the forward primitives choose their layouts (format_tag::any); the
//     backward primitives are created with the activations' layouts pinned to
//     the forward ones, so relu1 and the output are read by the backward
//     passes exactly as the forward pass wrote them, and the gradients with
//     respect to them are produced in those same layouts;
//   * the loss is fused with the last ReLU's backward pass, and the inner
//     ReLU's mask runs in place, both as flat loops over the blocked tensors;
//   * the caller's NHWC images and targets are reordered once on the way in;
//     weight gradients are reordered to HWIO once, straight into the
//     caller's buffers; bias gradients come from the weight-gradient
//     primitives.
// All primitives, scratchpads and intermediate tensors are created once.
//
// Threads: with num_threads == 1 everything runs on the calling thread.
// With num_threads >= 2 the forward pass and conv1's weight gradient use
// num_threads OpenMP threads, while conv2's weight gradient (on the calling
// thread) and conv2's data gradient plus the ReLU mask (on a helper thread)
// run at the same time, one thread each. Results differ from the
// single-thread run only in the order oneDNN sums floats (conv1's weight
// gradient is reduced over threads): image_filter_training_test bounds the
// difference at 1e-5 of each gradient's largest element.
//
// Thread safety: thread-compatible, as Conv2D.

#ifndef PARAMSERVER_KERNELS_IMAGE_FILTER_TRAINING_H_
#define PARAMSERVER_KERNELS_IMAGE_FILTER_TRAINING_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/image_filter_net.h"
#include "kernels/layout_bridge.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

// Gradients of the loss with respect to conv1's weights (HWIO) and bias,
// conv2's weights and bias: spans of the callers' buffers, overwritten.
using FilterGradients = std::array<absl::Span<float>, 4>;

class ImageFilterTraining {
 public:
  // INVALID_ARGUMENT for bad sizes; UNIMPLEMENTED if oneDNN has no
  // implementation for the shapes.
  static absl::StatusOr<std::unique_ptr<ImageFilterTraining>> Create(
      const ImageFilterParams& params);
  ~ImageFilterTraining();

  const ImageFilterParams& params() const { return params_; }
  int64_t image_elements() const { return image_elements_; }
  int64_t weights_elements() const { return weights_elements_; }

  // As ImageFilterNet::SetWeights: HWIO weights and biases, re-read only
  // when `version` changes. INVALID_ARGUMENT on wrong sizes.
  absl::Status SetWeights(absl::Span<const float> weights1,
                          absl::Span<const float> bias1,
                          absl::Span<const float> weights2,
                          absl::Span<const float> bias2, int64_t version);

  // The filter's output for `input`, both NHWC with image_elements().
  // INVALID_ARGUMENT on wrong sizes; FAILED_PRECONDITION before SetWeights.
  absl::Status Forward(absl::Span<const float> input, absl::Span<float> output);

  // Runs the forward pass on `input` and returns the mean squared error
  // against `targets` (both NHWC, image_elements()), writing the gradients
  // of that loss with respect to the four tensors to `gradients`
  // (weights_elements(), channels, weights_elements(), channels floats).
  // INVALID_ARGUMENT on wrong sizes; FAILED_PRECONDITION before SetWeights.
  absl::StatusOr<double> LossAndGradients(absl::Span<const float> input,
                                          absl::Span<const float> targets,
                                          const FilterGradients& gradients);

  // FLOPs of one LossAndGradients, counting five convolutions (two
  // forward, conv2's data gradient, both weight gradients) at
  // 2*N*H*W*K*K*C*C each.
  double StepFlops() const;

 private:
  struct Primitives;
  explicit ImageFilterTraining(const ImageFilterParams& params);
  void Init();  // Throws dnnl::error.

  absl::Status CheckArguments(absl::Span<const float> input,
                              absl::Span<const float> targets,
                              const FilterGradients* gradients) const;
  // Throw dnnl::error.
  void RunForward(absl::Span<const float> input);
  double RunLoss(absl::Span<const float> targets);
  void RunConv2Backward(const FilterGradients& gradients);
  void RunConv1Backward(const FilterGradients& gradients);

  // Constant after Create().
  const ImageFilterParams params_;
  int64_t image_elements_ = 0;
  int64_t weights_elements_ = 0;
  std::unique_ptr<Primitives> p_;

  std::optional<int64_t> weights_version_;
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_IMAGE_FILTER_TRAINING_H_
