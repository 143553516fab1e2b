#include "common/dtype.h"

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(DTypeTest, NamesSizesAndParsingRoundTrip) {
  for (DType dtype : {DType::kFloat, DType::kDouble, DType::kInt32,
                      DType::kInt64, DType::kBool}) {
    absl::StatusOr<DType> parsed = ParseDType(DTypeName(dtype));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, dtype);
    EXPECT_TRUE(IsValidDType(static_cast<int>(dtype)));
  }
  EXPECT_EQ(DTypeSize(DType::kFloat), 4);
  EXPECT_EQ(DTypeSize(DType::kInt64), 8);
  EXPECT_EQ(DTypeSize(DType::kBool), 1);
  EXPECT_EQ(DTypeName(DType::kDouble), "float64");
}

TEST(DTypeTest, UnknownValuesAreRejected) {
  EXPECT_FALSE(IsValidDType(0));
  EXPECT_FALSE(IsValidDType(7));  // DT_STRING: not supported.
  EXPECT_FALSE(IsValidDType(-1));
  EXPECT_EQ(ParseDType("float16").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseDType("float"), DType::kFloat);
}

TEST(DTypeTest, FloatingTypes) {
  EXPECT_TRUE(IsFloatingDType(DType::kFloat));
  EXPECT_TRUE(IsFloatingDType(DType::kDouble));
  EXPECT_FALSE(IsFloatingDType(DType::kInt32));
  EXPECT_FALSE(IsFloatingDType(DType::kBool));
}

}  // namespace
}  // namespace paramserver
