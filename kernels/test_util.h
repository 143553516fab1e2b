// Helpers shared by the kernels' tests: random data, the list of shapes the
// kernels are checked on, and a normwise closeness check.

#ifndef PARAMSERVER_KERNELS_TEST_UTIL_H_
#define PARAMSERVER_KERNELS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/conv2d_params.h"

namespace paramserver {
namespace kernels {

// n values uniform in [-1, 1), deterministic for a seed.
std::vector<float> RandomFloats(int64_t n, uint32_t seed);

std::vector<double> ToDouble(const std::vector<float>& v);

// Shapes covering SAME and VALID, stride 1 and 2, odd sizes, even kernels,
// kernels wider than the input, 1x1 kernels, channel counts that are and
// are not multiples of oneDNN's block of 16, with and without ReLU.
std::vector<Conv2DParams> TestConvCases();

// "n2_7x9x3_k3x3_o5_s2x2_SAME_relu": a gtest-safe name for a case.
std::string CaseName(const Conv2DParams& p);

// Succeeds iff max_i |actual[i] - expected[i]| <= rtol * max_i |expected[i]|
// (plus a tiny floor for all-zero tensors). Normwise rather than
// elementwise, because outputs that are sums of cancelling terms have a
// large elementwise relative error at no fault of the kernel.
testing::AssertionResult AllCloseNormwise(const std::vector<double>& actual,
                                          const std::vector<double>& expected,
                                          double rtol);
testing::AssertionResult AllCloseNormwise(const std::vector<float>& actual,
                                          const std::vector<double>& expected,
                                          double rtol);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_TEST_UTIL_H_
