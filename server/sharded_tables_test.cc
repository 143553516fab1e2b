// ShardedClient's dynamic tables over three in-process stores: one table
// spread over the shards by id, made, read, written, learned by a client
// that never made it, completed after a half-made creation, and deleted.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "client/shard_placement.h"
#include "client/sharded_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/local_variable_client.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr int kShards = 3;
constexpr int64_t kWidth = 4;

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

TableRequest Request(ReuseMode reuse) {
  TableRequest request;
  request.name = "ctr/user_emb";
  request.reuse = reuse;
  request.spec.width = kWidth;
  request.spec.initializer.kind = InitializerKind::kRandomNormal;
  request.spec.optimizer = OptimizerKind::kAdagrad;
  request.spec.capacity = 3000;
  return request;
}

class ShardedTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kShards; ++i) {
      stores_.push_back(
          std::shared_ptr<VariableStore>(*VariableStore::Create({})));
    }
    creator_ = Connect();
  }

  std::unique_ptr<ShardedClient> Connect() {
    std::vector<std::unique_ptr<VariableClient>> shards;
    std::vector<std::string> names;
    for (int i = 0; i < kShards; ++i) {
      shards.push_back(std::make_unique<LocalVariableClient>(stores_[i]));
      names.push_back("local-" + std::to_string(i));
    }
    return *ShardedClient::Create(std::move(shards), std::move(names));
  }

  // One shard's own view of its slice.
  absl::StatusOr<TableStatus> Slice(int shard) {
    return LocalVariableClient(stores_[shard]).GetTableStats("ctr/user_emb");
  }

  std::vector<std::shared_ptr<VariableStore>> stores_;
  std::unique_ptr<ShardedClient> creator_;
};

TEST_F(ShardedTablesTest, ATableIsSpreadOverEveryShardById) {
  absl::StatusOr<TableStatus> made =
      creator_->GetTable(Request(ReuseMode::kCreate));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(made->created);
  EXPECT_EQ(made->spec.capacity, 3000);
  EXPECT_EQ(made->spec.id_shard_count, kShards);
  ASSERT_TRUE(made->spec.initializer.seed.has_value());

  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 600; ++i) ids.push_back(i * 7919 - 1000);
  absl::StatusOr<GatheredRows> rows = creator_->GatherRows(made->name, ids);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows.size(), ids.size() * kWidth * sizeof(float));

  // The same rows as one whole table with the seed would give.
  auto whole_store = std::shared_ptr<VariableStore>(*VariableStore::Create({}));
  LocalVariableClient whole(whole_store);
  TableRequest whole_request = Request(ReuseMode::kCreate);
  whole_request.spec.initializer.seed = made->spec.initializer.seed;
  ASSERT_TRUE(whole.GetTable(whole_request).ok());
  absl::StatusOr<GatheredRows> expected = whole.GatherRows(made->name, ids);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(rows->rows, expected->rows);

  // Each slice holds its own ids, about a third, and a third of the
  // capacity; the whole's counters add them up.
  int64_t stored = 0;
  for (int shard = 0; shard < kShards; ++shard) {
    absl::StatusOr<TableStatus> slice = Slice(shard);
    ASSERT_TRUE(slice.ok()) << slice.status();
    EXPECT_EQ(slice->spec.id_shard_index, shard);
    EXPECT_EQ(slice->spec.capacity, 1000);
    EXPECT_GT(slice->counters.stored_rows, 150);
    EXPECT_LT(slice->counters.stored_rows, 250);
    stored += slice->counters.stored_rows;
  }
  EXPECT_EQ(stored, 600);
  absl::StatusOr<TableStatus> stats = creator_->GetTableStats(made->name);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->counters.stored_rows, 600);
  EXPECT_EQ(stats->counters.lookup_ids, 600);
  EXPECT_EQ(stats->spec.capacity, 3000);

  // A one-server client reaching a slice is refused the ids it lacks.
  LocalVariableClient one(stores_[0]);
  int64_t foreign = 0;
  while (IdShardOf(foreign, kShards) == 0) ++foreign;
  absl::StatusOr<GatheredRows> refused = one.GatherRows(made->name, {foreign});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("ShardedClient"));
}

TEST_F(ShardedTablesTest, AnotherClientLearnsTheSpreadFromARefusal) {
  ASSERT_TRUE(creator_->GetTable(Request(ReuseMode::kCreate)).ok());
  std::vector<int64_t> ids = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  std::vector<float> values(ids.size() * kWidth);
  for (size_t k = 0; k < values.size(); ++k) values[k] = 0.5f * k;
  RowUpdateSpec assign;
  assign.name = "ctr/user_emb";
  assign.kind = UpdateKind::kAssign;
  assign.ids = ids;
  const std::string bytes(reinterpret_cast<const char*>(values.data()),
                          values.size() * sizeof(float));
  assign.rows = bytes;
  // A client that never met the table writes, then reads, through it.
  std::unique_ptr<ShardedClient> other = Connect();
  absl::StatusOr<VariableInfo> written = other->PushRows(assign);
  ASSERT_TRUE(written.ok()) << written.status();
  absl::StatusOr<GatheredRows> read = Connect()->GatherRows(assign.name, ids);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Floats(read->rows), values);

  // Reuse: CREATE again is refused; AUTO_REUSE with the whole's capacity,
  // as GetTable reported it, matches.
  EXPECT_EQ(other->GetTable(Request(ReuseMode::kCreate)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(other->GetTable(Request(ReuseMode::kAutoReuse)).ok());
  TableRequest other_width = Request(ReuseMode::kAutoReuse);
  other_width.spec.width = kWidth + 1;
  EXPECT_EQ(other->GetTable(other_width).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Rows of the wrong size are refused before anything is sent.
  assign.rows = absl::string_view(bytes).substr(4);
  EXPECT_EQ(other->PushRows(assign).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ShardedTablesTest, AHalfMadeTableIsCompletedAndDeletedWhole) {
  ASSERT_TRUE(creator_->GetTable(Request(ReuseMode::kCreate)).ok());
  const int home = ShardForVariable("ctr/user_emb", kShards);
  const int lost = (home + 1) % kShards;
  // A creation that failed after the home slice: one slice is missing.
  ASSERT_TRUE(
      LocalVariableClient(stores_[lost]).DeleteVariable("ctr/user_emb").ok());
  absl::StatusOr<TableStatus> reused =
      Connect()->GetTable(Request(ReuseMode::kReuse));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
  EXPECT_TRUE(Slice(lost).ok());

  // A deletion that failed after the home slice: the next one by the name
  // takes the rest.
  ASSERT_TRUE(
      LocalVariableClient(stores_[home]).DeleteVariable("ctr/user_emb").ok());
  EXPECT_EQ(Connect()->GetTable(Request(ReuseMode::kReuse)).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<std::string>> remains =
      Connect()->DeleteVariable("ctr/user_emb");
  ASSERT_TRUE(remains.ok()) << remains.status();
  EXPECT_EQ(*remains, std::vector<std::string>{"ctr/user_emb"});
  for (int shard = 0; shard < kShards; ++shard) {
    EXPECT_EQ(Slice(shard).status().code(), absl::StatusCode::kNotFound);
  }

  // A client that knows the table, after another deleted its home slice:
  // its deletion still takes the rest, and it forgets the table.
  ASSERT_TRUE(creator_->GetTable(Request(ReuseMode::kCreate)).ok());
  ASSERT_TRUE(
      LocalVariableClient(stores_[home]).DeleteVariable("ctr/user_emb").ok());
  ASSERT_TRUE(creator_->DeleteVariable("ctr/user_emb").ok());
  for (int shard = 0; shard < kShards; ++shard) {
    EXPECT_EQ(Slice(shard).status().code(), absl::StatusCode::kNotFound);
  }

  // A whole deletion takes every slice.
  ASSERT_TRUE(creator_->GetTable(Request(ReuseMode::kCreate)).ok());
  absl::StatusOr<std::vector<std::string>> deleted =
      Connect()->DeleteVariable("ctr/user_emb");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  for (int shard = 0; shard < kShards; ++shard) {
    EXPECT_EQ(Slice(shard).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(creator_->DeleteVariable("ctr/user_emb").status().code(),
            absl::StatusCode::kNotFound);
}

// A table kept whole on its shard (made by a one-server client, or before
// tables were spread) is reused whole, and its rows are read there.
TEST_F(ShardedTablesTest, AWholeTableOnItsShardIsUsedWhole) {
  const int home = ShardForVariable("ctr/user_emb", kShards);
  LocalVariableClient one(stores_[home]);
  ASSERT_TRUE(one.GetTable(Request(ReuseMode::kCreate)).ok());
  absl::StatusOr<TableStatus> reused =
      creator_->GetTable(Request(ReuseMode::kAutoReuse));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_EQ(reused->spec.id_shard_count, 1);
  EXPECT_EQ(reused->spec.capacity, 3000);
  std::vector<int64_t> ids;
  for (int64_t id = 0; id < 50; ++id) ids.push_back(id);
  absl::StatusOr<GatheredRows> rows = creator_->GatherRows("ctr/user_emb", ids);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->rows, one.GatherRows("ctr/user_emb", ids)->rows);
  for (int shard = 0; shard < kShards; ++shard) {
    if (shard != home) EXPECT_FALSE(Slice(shard).ok());
  }
}

}  // namespace
}  // namespace paramserver
