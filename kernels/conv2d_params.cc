#include "kernels/conv2d_params.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

// oneDNN indexes with int64 and our spans with size_t; far below either limit
// this also keeps products of sizes from overflowing.
constexpr int64_t kMaxElements = int64_t{1} << 40;

// Returns a*b*c*d, or -1 if any factor is < 1 or the product exceeds
// kMaxElements.
int64_t CheckedProduct(int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t product = 1;
  for (int64_t f : {a, b, c, d}) {
    if (f < 1 || f > kMaxElements / product) return -1;
    product *= f;
  }
  return product;
}

}  // namespace

absl::StatusOr<Conv2DGeometry> ComputeConv2DGeometry(const Conv2DParams& p) {
  if (p.num_threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_threads must be >= 0; got ", p.num_threads));
  }
  absl::StatusOr<PaddedDim> h =
      ComputePaddedDim(p.in_h, p.kernel_h, p.stride_h, p.padding);
  if (!h.ok()) return h.status();
  absl::StatusOr<PaddedDim> w =
      ComputePaddedDim(p.in_w, p.kernel_w, p.stride_w, p.padding);
  if (!w.ok()) return w.status();

  Conv2DGeometry g;
  g.out_h = h->out;
  g.out_w = w->out;
  g.pad_top = h->pad_before;
  g.pad_bottom = h->pad_after;
  g.pad_left = w->pad_before;
  g.pad_right = w->pad_after;
  g.input_size = CheckedProduct(p.batch, p.in_h, p.in_w, p.in_c);
  g.weights_size = CheckedProduct(p.kernel_h, p.kernel_w, p.in_c, p.out_c);
  g.output_size = CheckedProduct(p.batch, g.out_h, g.out_w, p.out_c);
  if (g.input_size < 0 || g.weights_size < 0 || g.output_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "convolution sizes must be >= 1 and tensors at most ", kMaxElements,
        " elements; got batch ", p.batch, ", input ", p.in_h, "x", p.in_w, "x",
        p.in_c, ", kernel ", p.kernel_h, "x", p.kernel_w, ", out_c ", p.out_c));
  }
  return g;
}

double Conv2DFlops(const Conv2DParams& p, const Conv2DGeometry& g) {
  return 2.0 * p.batch * g.out_h * g.out_w * p.kernel_h * p.kernel_w * p.in_c *
         p.out_c;
}

}  // namespace kernels
}  // namespace paramserver
