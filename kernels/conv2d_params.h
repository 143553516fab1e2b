// Shape parameters of a 2-D convolution, shared by the forward and backward
// kernels, and the derived output geometry.
//
// Layouts are the ones TensorFlow users hold: activations NHWC, weights HWIO
// (kernel_h, kernel_w, in_c, out_c), bias [out_c].

#ifndef PARAMSERVER_KERNELS_CONV2D_PARAMS_H_
#define PARAMSERVER_KERNELS_CONV2D_PARAMS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "kernels/padding.h"

namespace paramserver {
namespace kernels {

struct Conv2DParams {
  int64_t batch = 1;
  int64_t in_h = 0;
  int64_t in_w = 0;
  int64_t in_c = 0;
  int64_t kernel_h = 0;
  int64_t kernel_w = 0;
  int64_t out_c = 0;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  Padding padding = Padding::kSame;
  // Forward only: apply ReLU to conv + bias as a oneDNN post-op.
  bool fuse_relu = false;
  // OpenMP threads used to create and run the primitives; 0 keeps the
  // calling thread's default (OMP_NUM_THREADS, else all cores).
  int num_threads = 0;
};

// Everything derived from Conv2DParams by TF's padding rules.
struct Conv2DGeometry {
  int64_t out_h = 0;
  int64_t out_w = 0;
  int64_t pad_top = 0;
  int64_t pad_bottom = 0;
  int64_t pad_left = 0;
  int64_t pad_right = 0;

  // Element counts of each tensor, given the params it was computed from.
  int64_t input_size = 0;    // batch * in_h * in_w * in_c
  int64_t weights_size = 0;  // kernel_h * kernel_w * in_c * out_c
  int64_t output_size = 0;   // batch * out_h * out_w * out_c
};

// INVALID_ARGUMENT if any size is < 1, num_threads < 0, VALID padding with a
// kernel larger than the input, or a tensor too large to index.
absl::StatusOr<Conv2DGeometry> ComputeConv2DGeometry(const Conv2DParams& p);

// Multiply-adds times two of one forward pass: 2*N*OH*OW*KH*KW*IC*OC.
double Conv2DFlops(const Conv2DParams& p, const Conv2DGeometry& g);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_CONV2D_PARAMS_H_
