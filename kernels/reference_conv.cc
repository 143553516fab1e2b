#include "kernels/reference_conv.h"

#include <algorithm>

namespace paramserver {
namespace kernels {
namespace {

// Calls fn(input_index, output_index, weight_index_of_ic0_oc0) for every
// (output pixel, kernel tap) pair whose input pixel is inside the image;
// the channel loops are left to fn. Indices are of element 0 of the
// channel dimension.
template <typename Fn>
void ForEachTap(const Conv2DParams& p, Fn fn) {
  const ReferenceGeometry g = ComputeReferenceGeometry(p);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t kh = 0; kh < p.kernel_h; ++kh)
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t ih = oh * p.stride_h + kh - g.pad_top;
            const int64_t iw = ow * p.stride_w + kw - g.pad_left;
            if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
            fn(((n * p.in_h + ih) * p.in_w + iw) * p.in_c,
               ((n * g.out_h + oh) * g.out_w + ow) * p.out_c,
               (kh * p.kernel_w + kw) * p.in_c * p.out_c);
          }
}

int64_t OutputSize(const Conv2DParams& p) {
  const ReferenceGeometry g = ComputeReferenceGeometry(p);
  return p.batch * g.out_h * g.out_w * p.out_c;
}

template <typename T>
std::vector<T> Narrow(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace

ReferenceGeometry ComputeReferenceGeometry(const Conv2DParams& p) {
  ReferenceGeometry g;
  if (p.padding == Padding::kValid) {
    g.out_h = (p.in_h - p.kernel_h) / p.stride_h + 1;
    g.out_w = (p.in_w - p.kernel_w) / p.stride_w + 1;
    return g;
  }
  g.out_h = (p.in_h + p.stride_h - 1) / p.stride_h;
  g.out_w = (p.in_w + p.stride_w - 1) / p.stride_w;
  const int64_t pad_h = (g.out_h - 1) * p.stride_h + p.kernel_h - p.in_h;
  const int64_t pad_w = (g.out_w - 1) * p.stride_w + p.kernel_w - p.in_w;
  g.pad_top = std::max<int64_t>(pad_h, 0) / 2;
  g.pad_left = std::max<int64_t>(pad_w, 0) / 2;
  return g;
}

template <typename T>
std::vector<T> ReferenceConv2D(const Conv2DParams& p,
                               const std::vector<T>& input,
                               const std::vector<T>& weights,
                               const std::vector<T>& bias) {
  std::vector<double> out(OutputSize(p));
  for (size_t i = 0; i < out.size(); ++i) out[i] = bias[i % p.out_c];
  ForEachTap(p, [&](int64_t in, int64_t o, int64_t w) {
    for (int64_t ic = 0; ic < p.in_c; ++ic)
      for (int64_t oc = 0; oc < p.out_c; ++oc)
        out[o + oc] +=
            double{input[in + ic]} * double{weights[w + ic * p.out_c + oc]};
  });
  if (p.fuse_relu) {
    for (double& v : out) v = std::max(v, 0.0);
  }
  return Narrow<T>(out);
}

template <typename T>
std::vector<T> ReferenceConv2DBackwardData(const Conv2DParams& p,
                                           const std::vector<T>& grad_output,
                                           const std::vector<T>& weights) {
  std::vector<double> grad_in(p.batch * p.in_h * p.in_w * p.in_c);
  ForEachTap(p, [&](int64_t in, int64_t o, int64_t w) {
    for (int64_t ic = 0; ic < p.in_c; ++ic)
      for (int64_t oc = 0; oc < p.out_c; ++oc)
        grad_in[in + ic] += double{grad_output[o + oc]} *
                            double{weights[w + ic * p.out_c + oc]};
  });
  return Narrow<T>(grad_in);
}

template <typename T>
void ReferenceConv2DBackwardWeights(const Conv2DParams& p,
                                    const std::vector<T>& input,
                                    const std::vector<T>& grad_output,
                                    std::vector<T>* grad_weights,
                                    std::vector<T>* grad_bias) {
  std::vector<double> gw(p.kernel_h * p.kernel_w * p.in_c * p.out_c);
  std::vector<double> gb(p.out_c);
  ForEachTap(p, [&](int64_t in, int64_t o, int64_t w) {
    for (int64_t ic = 0; ic < p.in_c; ++ic)
      for (int64_t oc = 0; oc < p.out_c; ++oc)
        gw[w + ic * p.out_c + oc] +=
            double{input[in + ic]} * double{grad_output[o + oc]};
  });
  for (size_t i = 0; i < grad_output.size(); ++i) {
    gb[i % p.out_c] += grad_output[i];
  }
  *grad_weights = Narrow<T>(gw);
  *grad_bias = Narrow<T>(gb);
}

#define INSTANTIATE_REFERENCE(T)                                          \
  template std::vector<T> ReferenceConv2D<T>(                             \
      const Conv2DParams&, const std::vector<T>&, const std::vector<T>&,  \
      const std::vector<T>&);                                             \
  template std::vector<T> ReferenceConv2DBackwardData<T>(                 \
      const Conv2DParams&, const std::vector<T>&, const std::vector<T>&); \
  template void ReferenceConv2DBackwardWeights<T>(                        \
      const Conv2DParams&, const std::vector<T>&, const std::vector<T>&,  \
      std::vector<T>*, std::vector<T>*);

INSTANTIATE_REFERENCE(float)
INSTANTIATE_REFERENCE(double)

}  // namespace kernels
}  // namespace paramserver
