#include "examples/image_filter_testing.h"

#include "absl/types/span.h"
#include "kernels/reference_conv.h"

namespace paramserver {

std::vector<float> Floats(const FetchedVariable& variable) {
  absl::Span<const float> span = FloatsOf(variable);
  return std::vector<float>(span.begin(), span.end());
}

std::vector<float> ReferenceImageFilter(const ImageFilterVariables& variables,
                                        const std::vector<float>& image,
                                        int64_t size, int64_t channels,
                                        int64_t kernel) {
  kernels::Conv2DParams params;
  params.in_h = params.in_w = size;
  params.in_c = params.out_c = channels;
  params.kernel_h = params.kernel_w = kernel;
  params.fuse_relu = true;
  std::vector<float> relu1 = kernels::ReferenceConv2D<float>(
      params, image, Floats(variables.conv1_weights),
      Floats(variables.conv1_biases));
  return kernels::ReferenceConv2D<float>(params, relu1,
                                         Floats(variables.conv2_weights),
                                         Floats(variables.conv2_biases));
}

}  // namespace paramserver
