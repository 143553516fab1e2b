// TensorFlow's SAME / VALID padding arithmetic for one spatial dimension.
//
// These are the rules tf.nn.conv2d applies (tensorflow/core/framework/
// kernel_shape_util.cc), so a model trained in TF gets the same output size
// and the same (possibly asymmetric) padding here:
//   SAME:  out = ceil(in / stride)
//          pad_total = max((out - 1) * stride + kernel - in, 0)
//          pad_before = pad_total / 2, pad_after = pad_total - pad_before
//   VALID: out = ceil((in - kernel + 1) / stride), no padding.
// When pad_total is odd the extra row/column goes after (bottom/right).

#ifndef PARAMSERVER_KERNELS_PADDING_H_
#define PARAMSERVER_KERNELS_PADDING_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace paramserver {
namespace kernels {

enum class Padding { kSame, kValid };

// Output size and padding of one spatial dimension.
struct PaddedDim {
  int64_t out = 0;
  int64_t pad_before = 0;
  int64_t pad_after = 0;
};

// Returns the output size and padding of a dimension of `in` elements
// convolved with a `kernel`-wide filter at `stride`.
// INVALID_ARGUMENT if in, kernel or stride is < 1, or if VALID padding would
// leave no output (kernel > in).
absl::StatusOr<PaddedDim> ComputePaddedDim(int64_t in, int64_t kernel,
                                           int64_t stride, Padding padding);

const char* PaddingName(Padding padding);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_PADDING_H_
