#include "client/json_format.h"

#include <cstring>
#include <limits>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

TEST(JsonFormatTest, VariableWithValues) {
  VariableInfo info{"conv1/b", {2}, DType::kFloat, 3, true};
  const bool created = false;
  const std::string bytes = Bytes<float>({0.1f, -2});
  const absl::string_view values = bytes;
  EXPECT_EQ(*VariableToJson(info, &created, &values),
            "{\"name\":\"conv1/b\",\"shape\":[2],\"dtype\":\"float32\","
            "\"version\":3,\"trainable\":true,\"created\":false,"
            "\"values\":[0.100000001,-2]}");
}

TEST(JsonFormatTest, EveryDtype) {
  EXPECT_EQ(*ValuesToJson({"i", {2}, DType::kInt64, 1, true},
                          Bytes<int64_t>({-5, int64_t{1} << 40})),
            "[-5,1099511627776]");
  EXPECT_EQ(
      *ValuesToJson({"b", {2}, DType::kBool, 1, true}, std::string("\1\0", 2)),
      "[true,false]");
  EXPECT_EQ(
      *ValuesToJson({"d", {}, DType::kDouble, 1, true}, Bytes<double>({0.1})),
      "[0.10000000000000001]");
  EXPECT_EQ(
      *ValuesToJson({"f", {2}, DType::kFloat, 1, true},
                    Bytes<float>({std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity()})),
      "[null,null]");
}

TEST(JsonFormatTest, RejectsValuesThatDoNotMatchTheShape) {
  absl::Status status =
      ValuesToJson({"v", {3}, DType::kInt32, 1, true}, Bytes<int32_t>({1, 2}))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

// Found with fuzz/cli_fuzzer's harness (input shape_wraps_to_zero_bytes):
// 2^62 floats "needed" 0 bytes when the size was multiplied out (it wraps
// around 2^64), and rendering read far past the value a server sent.
TEST(JsonFormatTest, RejectsAShapeWhoseByteSizeWrapsAround) {
  const int64_t huge = int64_t{1} << 62;
  EXPECT_EQ(
      ValuesToJson({"v", {huge}, DType::kFloat, 1, true}, "").status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValuesToJson({"v", {huge / 2, 4}, DType::kInt64, 1, true}, "")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
