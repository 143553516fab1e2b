#include "kernels/image_filter_net.h"

#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/reference_conv.h"
#include "kernels/test_util.h"

namespace paramserver {
namespace kernels {
namespace {

constexpr double kRtol = 1e-5;

Conv2DParams ReferenceParams(const ImageFilterParams& f) {
  Conv2DParams p;
  p.batch = f.batch;
  p.in_h = f.height;
  p.in_w = f.width;
  p.in_c = f.channels;
  p.kernel_h = f.kernel;
  p.kernel_w = f.kernel;
  p.out_c = f.channels;
  p.fuse_relu = true;
  return p;
}

TEST(ImageFilterNetTest, MatchesTwoReferenceConvolutions) {
  for (const ImageFilterParams& f : {ImageFilterParams{1, 12, 10, 32, 5, 1},
                                     ImageFilterParams{2, 9, 11, 32, 5, 2},
                                     ImageFilterParams{3, 7, 5, 8, 3, 0}}) {
    absl::StatusOr<std::unique_ptr<ImageFilterNet>> net =
        ImageFilterNet::Create(f);
    ASSERT_TRUE(net.ok()) << net.status();
    const int64_t size = f.batch * f.height * f.width * f.channels;
    const int64_t weights_size = f.kernel * f.kernel * f.channels * f.channels;
    const std::vector<float> input = RandomFloats(size, 1);
    const std::vector<float> w1 = RandomFloats(weights_size, 2);
    const std::vector<float> b1 = RandomFloats(f.channels, 3);
    const std::vector<float> w2 = RandomFloats(weights_size, 4);
    const std::vector<float> b2 = RandomFloats(f.channels, 5);
    ASSERT_TRUE((*net)->SetWeights(w1, b1, w2, b2, 1).ok());
    std::vector<float> output(size);
    ASSERT_TRUE((*net)->Forward(input, absl::MakeSpan(output)).ok());

    const Conv2DParams p = ReferenceParams(f);
    const std::vector<double> middle =
        ReferenceConv2D(p, ToDouble(input), ToDouble(w1), ToDouble(b1));
    EXPECT_TRUE(AllCloseNormwise(
        output, ReferenceConv2D(p, middle, ToDouble(w2), ToDouble(b2)), kRtol));
    EXPECT_EQ((*net)->Flops(), 2.0 * 2 * size * weights_size / f.channels);
  }
}

TEST(ImageFilterNetTest, RejectsBadArguments) {
  EXPECT_EQ(ImageFilterNet::Create({1, 0, 8, 32, 5, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<ImageFilterNet>> net =
      ImageFilterNet::Create({1, 6, 6, 4, 3, 0});
  ASSERT_TRUE(net.ok()) << net.status();
  std::vector<float> input(6 * 6 * 4), output(6 * 6 * 4);
  std::vector<float> weights(3 * 3 * 4 * 4), bias(4);
  EXPECT_EQ((*net)->Forward(input, absl::MakeSpan(output)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*net)->SetWeights(weights, bias, bias, bias, 1).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*net)->SetWeights(weights, bias, weights, bias, 1).ok());
  EXPECT_EQ((*net)->Forward(bias, absl::MakeSpan(output)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
