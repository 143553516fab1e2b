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

TEST(ValueByteSizeTest, MultipliesElementsByTheDtypeSize) {
  EXPECT_EQ(*ValueByteSize({}, DType::kDouble), 8u);
  EXPECT_EQ(*ValueByteSize({3, 4}, DType::kFloat), 48u);
  EXPECT_EQ(*ValueByteSize({3, 4}, DType::kBool), 12u);
  EXPECT_EQ(*ValueByteSize({3, 0, 4}, DType::kInt64), 0u);
}

TEST(ValueByteSizeTest, LargestSizesThatFit) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const int64_t most = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(*ValueByteSize({most}, DType::kBool), static_cast<uint64_t>(most));
  // 2^62 - 1 floats: 2^64 - 4 bytes.
  EXPECT_EQ(*ValueByteSize({(int64_t{1} << 62) - 1}, DType::kFloat), kMax - 3);
  // 2^61 - 1 int64s: 2^64 - 8 bytes.
  EXPECT_EQ(*ValueByteSize({(int64_t{1} << 61) - 1}, DType::kInt64), kMax - 7);
}

// Multiplied out, these wrap around 2^64: 2^62 floats would "need" 0 bytes.
TEST(ValueByteSizeTest, SizesPast64BitsAreOutOfRange) {
  const int64_t huge = int64_t{1} << 62;
  EXPECT_EQ(ValueByteSize({huge}, DType::kFloat).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ValueByteSize({huge / 4, 4}, DType::kInt64).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ValueByteSize({int64_t{1} << 61}, DType::kDouble).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ValueByteSize({std::numeric_limits<int64_t>::max()}, DType::kInt32)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
}

TEST(ValueByteSizeTest, BadShapesAndDtypesAreInvalid) {
  EXPECT_EQ(ValueByteSize({2, -3}, DType::kFloat).status().code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_EQ(ValueByteSize({big, 3}, DType::kBool).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValueByteSize({2}, static_cast<DType>(7)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
