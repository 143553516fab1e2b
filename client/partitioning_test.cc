#include "client/partitioning.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

VariableRequest Request(TensorShape shape) {
  VariableRequest request;
  request.name = "emb";
  request.shape = std::move(shape);
  return request;
}

TEST(MakePartitionLayoutTest, SplitsRowsAsTheFixedSizePartitioner) {
  absl::StatusOr<PartitionLayout> layout =
      MakePartitionLayout(Request({5, 3}), 3, "emb");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_THAT(layout->rows, ElementsAre(2, 2, 1));
  EXPECT_EQ(layout->row_bytes, 3 * 4);
  EXPECT_EQ(layout->total_bytes, 5 * 3 * 4);
  EXPECT_EQ(layout->dtype, DType::kFloat);
  // No more parts than rows.
  EXPECT_EQ(MakePartitionLayout(Request({2}), 4, "emb")->rows.size(), 2u);
}

TEST(MakePartitionLayoutTest, RefusesWhatCannotBeSplit) {
  EXPECT_EQ(MakePartitionLayout(Request({4}), 0, "emb").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePartitionLayout(Request({}), 2, "emb").status().code(),
            absl::StatusCode::kInvalidArgument);
  VariableRequest unknown = Request({});
  unknown.shape.reset();
  EXPECT_EQ(MakePartitionLayout(unknown, 2, "emb").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePartitionLayout(Request({int64_t{1} << 40, int64_t{1} << 30}),
                                2, "emb")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PartInitializerTest, WholeShapeForFansAndOneSeedPerPart) {
  InitializerSpec spec;
  spec.kind = InitializerKind::kGlorotUniform;
  spec.seed = 7;
  absl::StatusOr<InitializerSpec> part =
      PartInitializer(spec, {6, 2}, 2, 4, 2, "emb");
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_THAT(*part->full_shape, ElementsAre(6, 2));
  EXPECT_EQ(*part->seed, 9);
}

TEST(PartInitializerTest, ConstantListGivesEachPartItsRows) {
  InitializerSpec spec;
  spec.kind = InitializerKind::kConstant;
  for (int v = 0; v < 5; ++v) spec.values.push_back(v);  // 3x2 needs 6.
  absl::StatusOr<InitializerSpec> first =
      PartInitializer(spec, {3, 2}, 0, 0, 2, "emb");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->values.size(), 4u);
  absl::StatusOr<InitializerSpec> last =
      PartInitializer(spec, {3, 2}, 1, 2, 1, "emb");
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->values.size(), 1u);  // The 5th value, repeated.
  EXPECT_EQ(last->values[0].ToInt64(), 4);

  for (int v = 0; v < 3; ++v) spec.values.push_back(v);  // 8 > 6.
  EXPECT_EQ(PartInitializer(spec, {3, 2}, 0, 0, 2, "emb").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AssemblePartsTest, JoinsValuesAndSumsVersions) {
  PartitionLayout layout = *MakePartitionLayout(Request({3}), 2, "emb");
  std::vector<PulledValue> parts(2);
  parts[0].info = {"emb/part_0", {2}, DType::kFloat, 3, true};
  parts[0].value = std::string(8, 'a');
  parts[1].info = {"emb/part_1", {1}, DType::kFloat, 4, true};
  parts[1].value = std::string(4, 'b');
  absl::StatusOr<PulledValue> whole = AssembleParts("emb", layout, parts);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->info.name, "emb");
  EXPECT_EQ(whole->info.version, 7);
  EXPECT_EQ(whole->value, "aaaaaaaabbbb");

  parts[1].value = std::string(8, 'b');  // A part that changed its shape.
  EXPECT_EQ(AssembleParts("emb", layout, parts).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace paramserver
