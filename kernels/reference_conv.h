// Straightforward reference convolutions for tests: direct loops, no
// blocking, accumulation in double. Padding is computed here independently
// of padding.cc, from TF's definition, so the tests check that code too.
//
// Layouts as in Conv2D: NHWC activations, HWIO weights, bias [out_c].
// Preconditions (tests only): params valid and vectors of the right sizes.

#ifndef PARAMSERVER_KERNELS_REFERENCE_CONV_H_
#define PARAMSERVER_KERNELS_REFERENCE_CONV_H_

#include <cstdint>
#include <vector>

#include "kernels/conv2d_params.h"

namespace paramserver {
namespace kernels {

struct ReferenceGeometry {
  int64_t out_h = 0;
  int64_t out_w = 0;
  int64_t pad_top = 0;
  int64_t pad_left = 0;
};

ReferenceGeometry ComputeReferenceGeometry(const Conv2DParams& p);

// [relu](conv(input, weights) + bias); ReLU iff p.fuse_relu.
template <typename T>
std::vector<T> ReferenceConv2D(const Conv2DParams& p,
                               const std::vector<T>& input,
                               const std::vector<T>& weights,
                               const std::vector<T>& bias);

// dL/d(input) of the convolution (no ReLU) given dL/d(output).
template <typename T>
std::vector<T> ReferenceConv2DBackwardData(const Conv2DParams& p,
                                           const std::vector<T>& grad_output,
                                           const std::vector<T>& weights);

// dL/d(weights) and dL/d(bias) of the convolution (no ReLU).
template <typename T>
void ReferenceConv2DBackwardWeights(const Conv2DParams& p,
                                    const std::vector<T>& input,
                                    const std::vector<T>& grad_output,
                                    std::vector<T>* grad_weights,
                                    std::vector<T>* grad_bias);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_REFERENCE_CONV_H_
