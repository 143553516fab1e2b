#include "kernels/conv2d_descs.h"

#include "kernels/dnnl_util.h"

namespace paramserver {
namespace kernels {
namespace {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;

constexpr memory::data_type kF32 = memory::data_type::f32;

// oneDNN's logical dimension order is always NCHW / OIHW; the format tag
// says how they are laid out in memory.
ConvMemoryDescs MakeDescs(const Conv2DParams& p, const Conv2DGeometry& g,
                          Tag activations, Tag weights) {
  ConvMemoryDescs d;
  d.src = memory::desc({p.batch, p.in_c, p.in_h, p.in_w}, kF32, activations);
  d.weights =
      memory::desc({p.out_c, p.in_c, p.kernel_h, p.kernel_w}, kF32, weights);
  d.bias = memory::desc({p.out_c}, kF32, Tag::x);
  d.dst = memory::desc({p.batch, p.out_c, g.out_h, g.out_w}, kF32, activations);
  return d;
}

memory::dims Strides(const Conv2DParams& p) { return {p.stride_h, p.stride_w}; }
memory::dims PadBefore(const Conv2DGeometry& g) {
  return {g.pad_top, g.pad_left};
}
memory::dims PadAfter(const Conv2DGeometry& g) {
  return {g.pad_bottom, g.pad_right};
}

}  // namespace

ConvMemoryDescs PlainConvDescs(const Conv2DParams& p, const Conv2DGeometry& g) {
  return MakeDescs(p, g, Tag::nhwc, Tag::hwio);
}

ConvMemoryDescs AnyConvDescs(const Conv2DParams& p, const Conv2DGeometry& g) {
  return MakeDescs(p, g, Tag::any, Tag::any);
}

dnnl::primitive_attr ConvAttr(bool fuse_relu) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (fuse_relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(/*scale=*/1.0f, dnnl::algorithm::eltwise_relu,
                       /*alpha=*/0.0f, /*beta=*/0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

dnnl::convolution_forward::desc ForwardDesc(dnnl::prop_kind prop,
                                            const Conv2DParams& p,
                                            const Conv2DGeometry& g,
                                            const ConvMemoryDescs& d) {
  return dnnl::convolution_forward::desc(
      prop, dnnl::algorithm::convolution_direct, d.src, d.weights, d.bias,
      d.dst, Strides(p), PadBefore(g), PadAfter(g));
}

dnnl::convolution_backward_data::desc BackwardDataDesc(
    const Conv2DParams& p, const Conv2DGeometry& g, const ConvMemoryDescs& d) {
  return dnnl::convolution_backward_data::desc(
      dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst, Strides(p),
      PadBefore(g), PadAfter(g));
}

dnnl::convolution_backward_weights::desc BackwardWeightsDesc(
    const Conv2DParams& p, const Conv2DGeometry& g, const ConvMemoryDescs& d) {
  return dnnl::convolution_backward_weights::desc(
      dnnl::algorithm::convolution_direct, d.src, d.weights, d.bias, d.dst,
      Strides(p), PadBefore(g), PadAfter(g));
}

dnnl::memory NewScratchpad(const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, CpuEngine());
}

}  // namespace kernels
}  // namespace paramserver
