#include "kernels/padding.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

// ceil(a / b) for a >= 0, b > 0.
int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

absl::StatusOr<PaddedDim> ComputePaddedDim(int64_t in, int64_t kernel,
                                           int64_t stride, Padding padding) {
  if (in < 1 || kernel < 1 || stride < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input size, kernel size and stride must be >= 1; got ",
                     in, ", ", kernel, ", ", stride));
  }
  PaddedDim dim;
  if (padding == Padding::kValid) {
    if (kernel > in) {
      return absl::InvalidArgumentError(
          absl::StrCat("VALID padding needs kernel <= input; got kernel ",
                       kernel, " on input ", in));
    }
    dim.out = CeilDiv(in - kernel + 1, stride);
    return dim;
  }
  dim.out = CeilDiv(in, stride);
  const int64_t pad_total =
      std::max<int64_t>((dim.out - 1) * stride + kernel - in, 0);
  dim.pad_before = pad_total / 2;
  dim.pad_after = pad_total - dim.pad_before;
  return dim;
}

const char* PaddingName(Padding padding) {
  return padding == Padding::kSame ? "SAME" : "VALID";
}

}  // namespace kernels
}  // namespace paramserver
