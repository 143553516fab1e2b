#include "kernels/padding.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace kernels {
namespace {

struct Case {
  int64_t in, kernel, stride;
  Padding padding;
  int64_t out, pad_before, pad_after;
};

// Expected values worked out by hand from TF's documented rules.
TEST(ComputePaddedDimTest, MatchesTensorFlow) {
  const Case cases[] = {
      {224, 5, 1, Padding::kSame, 224, 2, 2},
      {7, 3, 2, Padding::kSame, 4, 1, 1},
      {8, 3, 2, Padding::kSame, 4, 0, 1},  // Odd total: extra goes after.
      {6, 2, 1, Padding::kSame, 6, 0, 1},  // Even kernel.
      {5, 1, 2, Padding::kSame, 3, 0, 0},
      {2, 5, 1, Padding::kSame, 2, 2, 2},  // Kernel wider than the input.
      {10, 3, 3, Padding::kSame, 4, 1, 1},
      {7, 3, 1, Padding::kValid, 5, 0, 0},
      {7, 3, 2, Padding::kValid, 3, 0, 0},
      {8, 3, 2, Padding::kValid, 3, 0, 0},
      {5, 5, 3, Padding::kValid, 1, 0, 0},
      {9, 1, 4, Padding::kValid, 3, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "in=" << c.in << " k=" << c.kernel << " s=" << c.stride
                 << " " << PaddingName(c.padding));
    absl::StatusOr<PaddedDim> dim =
        ComputePaddedDim(c.in, c.kernel, c.stride, c.padding);
    ASSERT_TRUE(dim.ok()) << dim.status();
    EXPECT_EQ(dim->out, c.out);
    EXPECT_EQ(dim->pad_before, c.pad_before);
    EXPECT_EQ(dim->pad_after, c.pad_after);
  }
}

TEST(ComputePaddedDimTest, RejectsBadArguments) {
  EXPECT_EQ(ComputePaddedDim(0, 3, 1, Padding::kSame).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePaddedDim(5, 0, 1, Padding::kSame).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePaddedDim(5, 3, 0, Padding::kValid).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePaddedDim(5, 3, -2, Padding::kSame).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePaddedDim(4, 5, 1, Padding::kValid).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kernels
}  // namespace paramserver
