#ifndef PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TESTING_H_
#define PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TESTING_H_

// What tests of the image filter share: the floats of a variable and the
// filter computed with the plain reference convolution
// (kernels/reference_conv.h).

#include <cstdint>
#include <vector>

#include "examples/image_filter.h"

namespace paramserver {

// The floats a float32 variable holds.
std::vector<float> Floats(const FetchedVariable& variable);

// conv -> +bias -> relu twice over a size x size x channels NHWC image with
// kernel x kernel filters and SAME padding, as ImageFilter::Apply computes
// it, with `variables`' values.
std::vector<float> ReferenceImageFilter(const ImageFilterVariables& variables,
                                        const std::vector<float>& image,
                                        int64_t size, int64_t channels,
                                        int64_t kernel);

}  // namespace paramserver

#endif  // PARAM_SERVER_EXAMPLES_IMAGE_FILTER_TESTING_H_
