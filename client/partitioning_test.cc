#include "client/partitioning.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

// Each id's (part, row) as TF 1.x's embedding_lookup computes it, for 11
// rows over 3 parts of 4, 4 and 3 rows.
TEST(PlaceIdsTest, ModAndDivAsTensorFlowAssignsIds) {
  const PartitionLayout layout = *MakePartitionLayout(Request({11, 2}), 3, "t");
  std::vector<int64_t> ids(11);
  for (int64_t i = 0; i < 11; ++i) ids[i] = i;
  const auto pairs = [](const std::vector<PartRow>& placed) {
    std::vector<std::pair<int, int64_t>> out;
    for (const PartRow& where : placed) out.emplace_back(where.part, where.row);
    return out;
  };
  auto mod = PlaceIds(layout, ids, PartitionStrategy::kMod, "t");
  ASSERT_TRUE(mod.ok()) << mod.status();
  EXPECT_THAT(pairs(*mod),
              ElementsAre(std::pair(0, 0), std::pair(1, 0), std::pair(2, 0),
                          std::pair(0, 1), std::pair(1, 1), std::pair(2, 1),
                          std::pair(0, 2), std::pair(1, 2), std::pair(2, 2),
                          std::pair(0, 3), std::pair(1, 3)));
  auto div = PlaceIds(layout, ids, PartitionStrategy::kDiv, "t");
  ASSERT_TRUE(div.ok()) << div.status();
  EXPECT_THAT(pairs(*div),
              ElementsAre(std::pair(0, 0), std::pair(0, 1), std::pair(0, 2),
                          std::pair(0, 3), std::pair(1, 0), std::pair(1, 1),
                          std::pair(1, 2), std::pair(1, 3), std::pair(2, 0),
                          std::pair(2, 1), std::pair(2, 2)));
  const std::vector<int64_t> bad = {3, 11};
  EXPECT_EQ(
      PlaceIds(layout, bad, PartitionStrategy::kDiv, "t").status().message(),
      "indices[1] = 11 is not in [0, 11): t has 11 rows.");
}

TEST(SplitBagsTest, EachPartGetsItsIdsBagByBagWithTheWholeBagsDivisor) {
  const PartitionLayout layout = *MakePartitionLayout(Request({11, 2}), 3, "t");
  // Bags {0, 3, 4} (weights 1, 2, 2), {} and {5, 2} (weights 3, 4); mod
  // places 0 and 3 on part 0 (rows 0 and 1), 4 on part 1 (row 1), 5 and 2 on
  // part 2 (rows 1 and 0).
  const std::vector<int64_t> ids = {0, 3, 4, 5, 2};
  const std::vector<int64_t> offsets = {0, 3, 3};
  const std::vector<float> weights = {1, 2, 2, 3, 4};
  auto split = SplitBags(layout, ids, {offsets, weights, Combiner::kMean},
                         PartitionStrategy::kMod, "t");
  ASSERT_TRUE(split.ok()) << split.status();
  ASSERT_EQ(split->size(), 3u);
  const PartBags& part0 = (*split)[0];
  EXPECT_THAT(part0.rows, ElementsAre(0, 1));
  EXPECT_THAT(part0.offsets, ElementsAre(0));
  EXPECT_THAT(part0.bags, ElementsAre(0));
  EXPECT_THAT(part0.weights, ElementsAre(0.2f, 0.4f));  // Bag 0 sums to 5.
  const PartBags& part1 = (*split)[1];
  EXPECT_THAT(part1.rows, ElementsAre(1));
  EXPECT_THAT(part1.bags, ElementsAre(0));
  EXPECT_THAT(part1.weights, ElementsAre(0.4f));
  const PartBags& part2 = (*split)[2];
  EXPECT_THAT(part2.rows, ElementsAre(1, 0));
  EXPECT_THAT(part2.offsets, ElementsAre(0));
  EXPECT_THAT(part2.bags, ElementsAre(2));
  EXPECT_THAT(part2.weights, ElementsAre(3.0f / 7, 4.0f / 7));
  // Two bags on one part: each its own sub-bag; sum divides by nothing.
  const std::vector<int64_t> same_part = {0, 3, 6};
  const std::vector<int64_t> two_bags = {0, 2};
  auto summed = SplitBags(layout, same_part, {two_bags, {}, Combiner::kSum},
                          PartitionStrategy::kMod, "t");
  ASSERT_TRUE(summed.ok()) << summed.status();
  EXPECT_THAT((*summed)[0].rows, ElementsAre(0, 1, 2));
  EXPECT_THAT((*summed)[0].offsets, ElementsAre(0, 2));
  EXPECT_THAT((*summed)[0].bags, ElementsAre(0, 1));
  EXPECT_THAT((*summed)[0].weights, ElementsAre(1, 1, 1));
  EXPECT_TRUE((*summed)[1].bags.empty());
}

TEST(SplitBagsTest, RefusesWhatOneServerWouldRefuse) {
  const PartitionLayout layout = *MakePartitionLayout(Request({11, 2}), 3, "t");
  const std::vector<int64_t> ids = {0, 11};
  const std::vector<int64_t> offsets = {0};
  auto out_of_range = SplitBags(layout, ids, {offsets, {}, Combiner::kSum},
                                PartitionStrategy::kMod, "t");
  EXPECT_EQ(out_of_range.status().message(),
            "indices[1] = 11 is not in [0, 11): t has 11 rows.");
  const std::vector<int64_t> late = {1};
  EXPECT_THAT(std::string(SplitBags(layout, ids, {late, {}, Combiner::kSum},
                                    PartitionStrategy::kMod, "t")
                              .status()
                              .message()),
              HasSubstr("the first bag starts at 0"));
  // 17 rows of 4 MiB are more than one server pools in a call (64 MiB).
  const PartitionLayout wide =
      *MakePartitionLayout(Request({11, 1 << 20}), 3, "t");
  const std::vector<int64_t> many(17, 1);
  EXPECT_THAT(std::string(SplitBags(wide, many, {offsets, {}, Combiner::kSum},
                                    PartitionStrategy::kMod, "t")
                              .status()
                              .message()),
              HasSubstr("Pooling 17 ids of t (4194304 bytes each) would "
                        "touch more than 67108864 bytes"));
  VariableRequest ints = Request({11, 2});
  ints.dtype = DType::kInt64;
  const PartitionLayout int_layout = *MakePartitionLayout(ints, 3, "t");
  const std::vector<int64_t> one = {1};
  auto not_float = SplitBags(int_layout, one, {offsets, {}, Combiner::kSum},
                             PartitionStrategy::kMod, "t");
  EXPECT_EQ(not_float.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(not_float.status().message()),
              HasSubstr("need a float32 table; t is int64"));
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

std::string RawInt64s(const std::vector<int64_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(int64_t));
}

TEST(DescriptorTest, RecordsTheLayout) {
  VariableRequest request = Request({10, 4});
  request.dtype = DType::kDouble;
  request.trainable = false;
  const PartitionLayout layout = *MakePartitionLayout(request, 3, "emb");
  EXPECT_EQ(DescriptorName("s/emb"), "s/emb/.partitions");
  const std::vector<int64_t> values = EncodeDescriptor(layout);
  EXPECT_THAT(values, ElementsAre(kDescriptorFormat, 3, 2, 0, 2, 10, 4));
  absl::StatusOr<PartitionLayout> decoded =
      DecodeDescriptor(RawInt64s(values), "emb");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->shape, layout.shape);
  EXPECT_EQ(decoded->dtype, DType::kDouble);
  EXPECT_FALSE(decoded->trainable);
  EXPECT_EQ(decoded->rows, layout.rows);
  EXPECT_EQ(decoded->total_bytes, layout.total_bytes);
}

TEST(DescriptorTest, RefusesWhatDoesNotDecode) {
  const std::vector<std::vector<int64_t>> broken = {
      {},
      {2, 3, 1, 1, 1, 10},  // Another format.
      {1, 0, 1, 1, 1, 10},  // No parts.
      {1, 3, 7, 1, 1, 10},  // No such dtype.
      {1, 3, 1, 1, 2, 10},  // Rank 2, one dim.
      {1, 3, 1, 1, 1, -5},  // A negative dim.
      {1, 3, 1, 1, 0},      // Rank 0.
      {1, 4, 1, 1, 1, 2},   // 4 parts of 2 rows is 2 parts.
  };
  for (const std::vector<int64_t>& values : broken) {
    absl::Status s = DecodeDescriptor(RawInt64s(values), "emb").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << values.size();
    EXPECT_THAT(s.message(), HasSubstr("emb/.partitions"));
  }
  EXPECT_EQ(DecodeDescriptor("abc", "emb").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(DescriptorTest, ReuseChecksShapeDtypeAndPartsAsTensorFlow) {
  const PartitionLayout found = *MakePartitionLayout(Request({10, 4}), 3, "x");
  EXPECT_TRUE(CheckReusedLayout(found, found, "x").ok());
  absl::Status shape = CheckReusedLayout(
      *MakePartitionLayout(Request({7, 4}), 2, "x"), found, "x");
  EXPECT_EQ(shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shape.message(),
              HasSubstr("Trying to reuse partitioned variable x, but "
                        "specified shape (7, 4) and found shape (10, 4)."));
  VariableRequest doubles = Request({10, 4});
  doubles.dtype = DType::kDouble;
  EXPECT_THAT(
      CheckReusedLayout(*MakePartitionLayout(doubles, 3, "x"), found, "x")
          .message(),
      HasSubstr("specified dtype float64 and found dtype float32"));
  EXPECT_THAT(
      CheckReusedLayout(*MakePartitionLayout(Request({10, 4}), 2, "x"), found,
                        "x")
          .message(),
      HasSubstr("specified partitions [2, 1] and found partitions [3, 1]."));
}

}  // namespace
}  // namespace paramserver
