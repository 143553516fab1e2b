// ShardedClient's row operations over three in-process stores:
// embedding_lookup by global id over a partitioned variable with TF 1.x's
// mod and div strategies, its gradient routed back to the parts, max_norm.
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/partitioning.h"
#include "client/shard_placement.h"
#include "client/sharded_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/local_variable_client.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

// A [10, 3] float table whose element k holds k: row r is {3r, 3r+1, 3r+2}.
VariableRequest Table(std::string name) {
  VariableRequest request;
  request.name = std::move(name);
  request.shape = TensorShape{10, 3};
  request.initializer.kind = InitializerKind::kConstant;
  for (int k = 0; k < 30; ++k) request.initializer.values.push_back(k);
  return request;
}

std::vector<float> Rows(std::initializer_list<int> rows) {
  std::vector<float> values;
  for (int r : rows) {
    for (int j = 0; j < 3; ++j) values.push_back(3 * r + j);
  }
  return values;
}

class ShardedRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      stores_.push_back(
          std::shared_ptr<VariableStore>(*VariableStore::Create({})));
    }
    creator_ = Connect();
    // Parts of 4, 3 and 3 rows, as tf.fixed_size_partitioner(3): the
    // stored rows are contiguous, physical rows 0-3, 4-6, 7-9.
    ASSERT_TRUE(creator_->GetPartitionedVariable(Table("emb"), 3, false).ok());
  }

  std::unique_ptr<ShardedClient> Connect() {
    std::vector<std::unique_ptr<VariableClient>> shards;
    std::vector<std::string> names;
    for (int i = 0; i < 3; ++i) {
      shards.push_back(std::make_unique<LocalVariableClient>(stores_[i]));
      names.push_back("local-" + std::to_string(i));
    }
    return *ShardedClient::Create(std::move(shards), std::move(names));
  }

  std::vector<std::shared_ptr<VariableStore>> stores_;
  std::unique_ptr<ShardedClient> creator_;
};

// TF's own example (embedding_lookup's docstring), ids 0..9 over 3 parts:
// mod puts [0, 3, 6, 9], [1, 4, 7], [2, 5, 8] in the parts; div puts
// [0, 1, 2, 3], [4, 5, 6], [7, 8, 9].
TEST_F(ShardedRowsTest, LookupPlacesIdsAsTensorFlowDoes) {
  std::unique_ptr<ShardedClient> other = Connect();  // Learns the layout.
  for (ShardedClient* client : {creator_.get(), other.get()}) {
    auto div = client->EmbeddingLookup("emb", {9, 0, 7, 7, 4},
                                       PartitionStrategy::kDiv);
    ASSERT_TRUE(div.ok()) << div.status();
    EXPECT_THAT(Floats(div->rows), ElementsAreArray(Rows({9, 0, 7, 7, 4})));
    EXPECT_EQ(div->info.version, 3);  // The sum of the parts', as Pull's.
    EXPECT_THAT(div->info.shape, ElementsAre(10, 3));
    // mod: id 9 is part 0's row 3 (physical 3), id 7 part 1's row 2
    // (physical 6), id 4 part 1's row 1 (physical 5).
    auto mod = client->EmbeddingLookup("emb", {9, 0, 7, 7, 4},
                                       PartitionStrategy::kMod);
    ASSERT_TRUE(mod.ok()) << mod.status();
    EXPECT_THAT(Floats(mod->rows), ElementsAreArray(Rows({3, 0, 6, 6, 5})));
  }
}

// The gradient of a lookup, pushed by global id, lands on the rows the
// lookup read: after the same Adagrad steps, the partitioned table reads
// (through either strategy) exactly as an unpartitioned one does.
TEST_F(ShardedRowsTest, SparseGradientIsRoutedToThePartsThatOwnTheRows) {
  for (PartitionStrategy strategy :
       {PartitionStrategy::kMod, PartitionStrategy::kDiv}) {
    const std::string name =
        strategy == PartitionStrategy::kMod ? "mod_emb" : "div_emb";
    // Every row starts as ones, so the tables agree row for row whatever
    // the strategy; only where the gradient rows land tells them apart.
    VariableRequest ones = Table(name);
    ones.initializer = {};
    ones.initializer.kind = InitializerKind::kOnes;
    ASSERT_TRUE(creator_->GetPartitionedVariable(ones, 3, false).ok());
    ones.name = name + "_flat";
    ASSERT_TRUE(creator_->GetVariable(ones).ok());
    const std::vector<int64_t> ids = {7, 2, 7, 9, 0};
    RowUpdateSpec push;
    push.kind = UpdateKind::kApplyGradient;
    push.ids = ids;
    const std::string gradient =
        Bytes({1, 2, 3, -1, 0.5, 2, 4, 4, 4, 0.25, 1, -2, 3, 3, 3});
    push.rows = gradient;
    push.optimizer.kind = OptimizerKind::kAdagrad;
    push.optimizer.learning_rate = 0.5;
    push.partition_strategy = strategy;
    for (int step = 0; step < 2; ++step) {
      push.name = name;
      auto pushed = creator_->PushRows(push);
      ASSERT_TRUE(pushed.ok()) << pushed.status();
      // Each part the push touched moves by one: all three with mod
      // (7, 2, 9, 0 are parts 1, 2, 0, 0), parts 0 and 2 with div.
      const int touched = strategy == PartitionStrategy::kMod ? 3 : 2;
      EXPECT_EQ(pushed->version, 3 + (step + 1) * touched);
      push.name = name + "_flat";
      ASSERT_TRUE(creator_->PushRows(push).ok());
    }
    const std::vector<int64_t> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    auto partitioned = Connect()->EmbeddingLookup(name, all, strategy);
    auto flat = creator_->GatherRows(name + "_flat", all);
    ASSERT_TRUE(partitioned.ok()) << partitioned.status();
    ASSERT_TRUE(flat.ok()) << flat.status();
    EXPECT_EQ(partitioned->rows, flat->rows);
    // Rows 0, 2, 7 and 9 moved; the others are still ones.
    const std::vector<float> rows = Floats(partitioned->rows);
    for (int r = 0; r < 10; ++r) {
      const bool touched = r == 0 || r == 2 || r == 7 || r == 9;
      EXPECT_EQ(rows[3 * r] != 1.0f, touched) << r;
    }
  }
}

TEST_F(ShardedRowsTest, BadRowPushesAreRefusedBeforeAnythingIsSent) {
  const std::vector<int64_t> ids = {1, 10};
  const std::string two_rows = Bytes({1, 1, 1, 1, 1, 1});
  RowUpdateSpec push;
  push.name = "emb";
  push.kind = UpdateKind::kAssignAdd;
  push.ids = ids;
  push.rows = two_rows;
  absl::Status status = creator_->PushRows(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "indices[1] = 10 is not in [0, 10): emb has 10 rows.");
  const std::vector<int64_t> one = {1};
  push.ids = one;
  status = creator_->PushRows(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("Rows for emb have 24 bytes"));
  push.rows = absl::string_view(two_rows).substr(0, 12);
  push.base_version = 3;
  status = creator_->PushRows(push).status();
  EXPECT_THAT(status.message(), HasSubstr("Bounded staleness needs"));
  // Nothing reached any part.
  auto read = creator_->EmbeddingLookup("emb", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                                        PartitionStrategy::kDiv);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->info.version, 3);
  EXPECT_EQ(read->rows, Bytes(Rows({0, 1, 2, 3, 4, 5, 6, 7, 8, 9})));
  status = creator_->EmbeddingLookup("emb", {-1}).status();
  EXPECT_EQ(status.message(),
            "indices[0] = -1 is not in [0, 10): emb has 10 rows.");
}

// A retried push over the parts: each part's push carries "<id>/<part>"
// (so two parts on one shard do not share an id), and the retry applies
// nothing again on any part.
TEST_F(ShardedRowsTest, ARetriedPartitionedPushWithAnIdAppliesOnce) {
  // Ids 1, 5 and 8 fall in parts 0, 1 and 2 under div.
  const std::vector<int64_t> ids = {1, 5, 8};
  const std::string ones = Bytes(std::vector<float>(9, 1));
  RowUpdateSpec push;
  push.name = "emb";
  push.kind = UpdateKind::kAssignAdd;
  push.ids = ids;
  push.rows = ones;
  push.partition_strategy = PartitionStrategy::kDiv;
  push.push_id = "step-41";
  auto first = creator_->PushRows(push);
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = Connect()->PushRows(push);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->version, first->version);
  auto read = creator_->EmbeddingLookup("emb", ids, PartitionStrategy::kDiv);
  ASSERT_TRUE(read.ok()) << read.status();
  std::vector<float> want = Rows({1, 5, 8});
  for (float& x : want) x += 1;
  EXPECT_EQ(Floats(read->rows), want);
  std::set<std::string> remembered;
  for (const auto& store : stores_) {
    for (const RememberedPush& id : store->RememberedPushes()) {
      remembered.insert(id.id);
    }
  }
  EXPECT_THAT(remembered, ElementsAre("step-41/0", "step-41/1", "step-41/2"));

  // An id with no room for the part suffix is refused before anything is
  // sent.
  push.push_id = std::string(kMaxPushIdBytes, 'x');
  const absl::Status status = creator_->PushRows(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("too long"));
  read = creator_->EmbeddingLookup("emb", ids, PartitionStrategy::kDiv);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Floats(read->rows), want);
}

// max_norm clips each looked-up row to that L2 norm, as clip_by_norm.
TEST_F(ShardedRowsTest, MaxNormClipsLongRowsOnly) {
  VariableRequest small;
  small.name = "small";
  small.shape = TensorShape{2, 2};
  small.initializer.kind = InitializerKind::kConstant;
  small.initializer.values = {3, 4, 0.3, 0.4};  // Norms 5 and 0.5.
  ASSERT_TRUE(creator_->GetVariable(small).ok());
  auto clipped = creator_->EmbeddingLookup(
      "small", {0, 1}, PartitionStrategy::kMod, /*max_norm=*/1.0);
  ASSERT_TRUE(clipped.ok()) << clipped.status();
  EXPECT_THAT(Floats(clipped->rows), ElementsAre(3.0f * 1 / 5, 4.0f * 1 / 5,
                                                 0.3f * 1 / 1, 0.4f * 1 / 1));
  // Over a partitioned table too: row 9 {27, 28, 29} has norm 48.5.
  auto part = creator_->EmbeddingLookup("emb", {9}, PartitionStrategy::kDiv,
                                        /*max_norm=*/2.0);
  ASSERT_TRUE(part.ok()) << part.status();
  const std::vector<float> row = Floats(part->rows);
  EXPECT_NEAR(std::sqrt(row[0] * row[0] + row[1] * row[1] + row[2] * row[2]),
              2.0, 1e-6);
  VariableRequest counts;
  counts.name = "counts";
  counts.shape = TensorShape{2};
  counts.dtype = DType::kInt64;
  ASSERT_TRUE(creator_->GetVariable(counts).ok());
  absl::Status status =
      creator_->EmbeddingLookup("counts", {0}, PartitionStrategy::kMod, 1.0)
          .status();
  EXPECT_EQ(status.message(),
            "max_norm clips floating-point rows; counts is int64.");
}

}  // namespace
}  // namespace paramserver
