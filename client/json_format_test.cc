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

TEST(JsonFormatTest, ATableIsItsSpecAndCounters) {
  TableStatus table;
  table.name = "emb/users";
  table.spec.width = 64;
  table.spec.capacity = 1000;
  table.spec.optimizer = OptimizerKind::kLazyAdam;
  table.spec.admit_after = 3;
  table.spec.evict_when_full = false;
  table.spec.ttl_micros = 3600 * int64_t{1000000};
  table.spec.initializer.seed = -5;
  table.counters.stored_rows = 10;
  table.counters.admitted = 12;
  table.counters.evicted_idle = 1;
  table.counters.evicted_capacity = 1;
  table.counters.lookup_ids = 40;
  table.counters.lookup_hits = 25;
  table.counters.dropped_gradient_rows = 2;
  table.counters.steps = 7;
  table.counters.bytes = 4096;
  EXPECT_EQ(TableToJson(table),
            "{\"name\":\"emb/users\",\"width\":64,\"capacity\":1000,"
            "\"id_shards\":1,"
            "\"optimizer\":\"LAZY_ADAM\",\"admit_after\":3,"
            "\"evict_when_full\":false,\"ttl_seconds\":3600,\"seed\":-5,"
            "\"stored_rows\":10,\"admitted\":12,\"evicted_idle\":1,"
            "\"evicted_capacity\":1,\"lookup_ids\":40,\"lookup_hits\":25,"
            "\"dropped_gradient_rows\":2,\"steps\":7,\"bytes\":4096}");
}

}  // namespace
}  // namespace paramserver
