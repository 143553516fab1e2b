// oneDNN descriptors for a Conv2DParams: the caller's plain layouts (NHWC,
// HWIO) and the format_tag::any versions that let oneDNN pick its own.
// Internal to the kernels library. Every function may throw dnnl::error;
// call inside CallDnnl.

#ifndef PARAMSERVER_KERNELS_CONV2D_DESCS_H_
#define PARAMSERVER_KERNELS_CONV2D_DESCS_H_

#include "kernels/conv2d_params.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

struct ConvMemoryDescs {
  dnnl::memory::desc src;
  dnnl::memory::desc weights;
  dnnl::memory::desc bias;
  dnnl::memory::desc dst;
};

// NHWC activations, HWIO weights, dense bias.
ConvMemoryDescs PlainConvDescs(const Conv2DParams& p, const Conv2DGeometry& g);

// format_tag::any for activations and weights (bias stays dense).
ConvMemoryDescs AnyConvDescs(const Conv2DParams& p, const Conv2DGeometry& g);

// User-managed scratchpad (allocated once per object instead of per call),
// plus ReLU as an eltwise post-op when `fuse_relu`.
dnnl::primitive_attr ConvAttr(bool fuse_relu);

dnnl::convolution_forward::desc ForwardDesc(dnnl::prop_kind prop,
                                            const Conv2DParams& p,
                                            const Conv2DGeometry& g,
                                            const ConvMemoryDescs& d);

dnnl::convolution_backward_data::desc BackwardDataDesc(
    const Conv2DParams& p, const Conv2DGeometry& g, const ConvMemoryDescs& d);

dnnl::convolution_backward_weights::desc BackwardWeightsDesc(
    const Conv2DParams& p, const Conv2DGeometry& g, const ConvMemoryDescs& d);

// Memory for a primitive's scratchpad descriptor.
dnnl::memory NewScratchpad(const dnnl::memory::desc& desc);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_CONV2D_DESCS_H_
