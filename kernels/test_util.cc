#include "kernels/test_util.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {
namespace {

Conv2DParams Case(int64_t batch, int64_t h, int64_t w, int64_t c, int64_t kh,
                  int64_t kw, int64_t oc, int64_t stride, Padding padding,
                  bool relu) {
  Conv2DParams p;
  p.batch = batch;
  p.in_h = h;
  p.in_w = w;
  p.in_c = c;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.out_c = oc;
  p.stride_h = stride;
  p.stride_w = stride;
  p.padding = padding;
  p.fuse_relu = relu;
  return p;
}

}  // namespace

std::vector<float> RandomFloats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> ToDouble(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

std::vector<Conv2DParams> TestConvCases() {
  constexpr Padding kSame = Padding::kSame;
  constexpr Padding kValid = Padding::kValid;
  return {
      Case(1, 7, 9, 3, 3, 3, 5, 1, kSame, true),
      Case(2, 7, 9, 3, 3, 3, 5, 2, kSame, false),
      Case(1, 8, 6, 4, 2, 2, 3, 2, kSame, false),  // Asymmetric padding.
      Case(1, 3, 4, 2, 5, 5, 3, 1, kSame, true),   // Kernel > input.
      Case(3, 9, 7, 8, 1, 1, 8, 2, kSame, false),
      Case(1, 9, 9, 32, 5, 5, 32, 1, kSame, true),  // The filter's shape.
      Case(1, 13, 11, 16, 3, 3, 48, 2, kSame, true),
      Case(1, 11, 13, 16, 5, 5, 17, 1, kValid, true),
      Case(2, 11, 10, 17, 3, 5, 16, 2, kValid, false),
      Case(1, 6, 5, 3, 3, 2, 7, 1, kValid, false),
      Case(2, 8, 8, 32, 3, 3, 32, 2, kValid, true),
  };
}

std::string CaseName(const Conv2DParams& p) {
  return absl::StrCat("n", p.batch, "_", p.in_h, "x", p.in_w, "x", p.in_c, "_k",
                      p.kernel_h, "x", p.kernel_w, "_o", p.out_c, "_s",
                      p.stride_h, "x", p.stride_w, "_", PaddingName(p.padding),
                      p.fuse_relu ? "_relu" : "");
}

testing::AssertionResult AllCloseNormwise(const std::vector<double>& actual,
                                          const std::vector<double>& expected,
                                          double rtol) {
  if (actual.size() != expected.size()) {
    return testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  double max_ref = 0, max_err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(expected[i]));
    const double err = std::abs(actual[i] - expected[i]);
    if (err > max_err) {
      max_err = err;
      worst = i;
    }
  }
  const double bound = rtol * max_ref + 1e-30;
  if (max_err <= bound) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "max |error| " << max_err << " > " << rtol << " * max |expected| "
         << max_ref << "; worst at index " << worst << ": " << actual[worst]
         << " vs " << expected[worst];
}

testing::AssertionResult AllCloseNormwise(const std::vector<float>& actual,
                                          const std::vector<double>& expected,
                                          double rtol) {
  return AllCloseNormwise(ToDouble(actual), expected, rtol);
}

}  // namespace kernels
}  // namespace paramserver
