#include "common/tensor_shape.h"

#include <limits>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(TensorShapeTest, PrintsLikePythonTuples) {
  EXPECT_EQ(ShapeToString({}), "()");
  EXPECT_EQ(ShapeToString({2}), "(2,)");
  EXPECT_EQ(ShapeToString({5, 5, 32, 32}), "(5, 5, 32, 32)");
}

TEST(TensorShapeTest, CountsElements) {
  EXPECT_EQ(*NumElements({}), 1);
  EXPECT_EQ(*NumElements({3, 4}), 12);
  EXPECT_EQ(*NumElements({3, 0, 4}), 0);
}

TEST(TensorShapeTest, RejectsNegativeOverflowingAndTooDeepShapes) {
  EXPECT_EQ(NumElements({2, -3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_EQ(NumElements({big, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NumElements(TensorShape(kMaxRank + 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A zero anywhere makes the product 0, however large the rest.
  EXPECT_EQ(*NumElements({big, big, 0}), 0);
}

}  // namespace
}  // namespace paramserver
