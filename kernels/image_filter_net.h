// A two-convolution image filter, conv1 -> ReLU -> conv2 -> ReLU, both
// kernel x kernel, channels -> channels, SAME padding, stride 1, with bias and
// ReLU fused into each convolution. The intermediate activation stays in the
// blocked layout oneDNN chose for conv1's output, which conv2 is created to
// read directly: no NHWC round trip between the two. This is what
// image_filter_benchmark measures.
//
// Thread safety: thread-compatible, as Conv2D.

#ifndef PARAMSERVER_KERNELS_IMAGE_FILTER_NET_H_
#define PARAMSERVER_KERNELS_IMAGE_FILTER_NET_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/conv2d.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

struct ImageFilterParams {
  int64_t batch = 1;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 32;
  int64_t kernel = 5;
  int num_threads = 0;  // As Conv2DParams::num_threads.
};

class ImageFilterNet {
 public:
  // INVALID_ARGUMENT for bad sizes.
  static absl::StatusOr<std::unique_ptr<ImageFilterNet>> Create(
      const ImageFilterParams& params);

  // Weights HWIO (kernel*kernel*channels*channels) and biases (channels) of
  // the two convolutions; reordered only when `version` changes.
  absl::Status SetWeights(absl::Span<const float> weights1,
                          absl::Span<const float> bias1,
                          absl::Span<const float> weights2,
                          absl::Span<const float> bias2, int64_t version);

  // NHWC in and out, both batch*height*width*channels floats.
  // INVALID_ARGUMENT on wrong sizes; FAILED_PRECONDITION before SetWeights.
  absl::Status Forward(absl::Span<const float> input, absl::Span<float> output);

  const Conv2D& conv1() const { return *conv1_; }
  const Conv2D& conv2() const { return *conv2_; }

  // FLOPs of one Forward: 2*N*H*W*K*K*C*C per convolution.
  double Flops() const;

 private:
  ImageFilterNet(std::unique_ptr<Conv2D> conv1, std::unique_ptr<Conv2D> conv2,
                 dnnl::memory intermediate);

  std::unique_ptr<Conv2D> conv1_;
  std::unique_ptr<Conv2D> conv2_;
  dnnl::memory intermediate_;  // conv1's output, in its blocked layout.
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_IMAGE_FILTER_NET_H_
