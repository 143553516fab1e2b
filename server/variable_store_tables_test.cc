// Dynamic tables in the store: get_variable's reuse rules, one namespace
// with the variables, row operations, memory, deletion.

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TableRequest Request(const std::string& name,
                     ReuseMode reuse = ReuseMode::kCreate) {
  TableRequest request;
  request.name = name;
  request.reuse = reuse;
  request.spec.width = 2;
  request.spec.capacity = 1000;
  request.spec.initializer.kind = InitializerKind::kConstant;
  request.spec.initializer.values = {Number(0.5)};
  request.spec.optimizer = OptimizerKind::kAdagrad;
  return request;
}

std::vector<float> Floats(const std::shared_ptr<const TensorBuffer>& bytes) {
  std::vector<float> values(bytes->size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes->data(), bytes->size());
  return values;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

TEST(StoreTablesTest, GetTableFollowsGetVariablesReuseRules) {
  auto store = *VariableStore::Create({});
  auto created = store->GetTable(Request("emb/users"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  // The server chose a seed and keeps it.
  ASSERT_TRUE(created->info.spec.initializer.seed.has_value());

  EXPECT_EQ(store->GetTable(Request("emb/users")).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto reused = store->GetTable(Request("emb/users", ReuseMode::kReuse));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
  EXPECT_EQ(*reused->info.spec.initializer.seed,
            *created->info.spec.initializer.seed);
  EXPECT_EQ(
      store->GetTable(Request("emb/items", ReuseMode::kReuse)).status().code(),
      absl::StatusCode::kNotFound);
  TableRequest wider = Request("emb/users", ReuseMode::kAutoReuse);
  wider.spec.width = 3;
  const absl::Status shared = store->GetTable(wider).status();
  EXPECT_EQ(shared.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shared.message(), HasSubstr("Trying to share dynamic table"));

  // One namespace: a table's name is not a variable's, and back.
  VariableRequest variable;
  variable.name = "emb/users";
  variable.shape = TensorShape{2};
  EXPECT_THAT(store->GetVariable(variable).status().message(),
              HasSubstr("is a dynamic table"));
  variable.name = "dense";
  ASSERT_TRUE(store->GetVariable(variable).ok());
  EXPECT_THAT(store->GetTable(Request("dense")).status().message(),
              HasSubstr("is a variable"));

  TableRequest unbounded = Request("emb/free");
  unbounded.spec.capacity = 0;
  EXPECT_THAT(store->GetTable(unbounded).status().message(),
              HasSubstr("needs a capacity"));
  EXPECT_EQ(store->num_tables(), 1u);
}

TEST(StoreTablesTest, RowOperationsReachTheTable) {
  auto store = *VariableStore::Create({});
  ASSERT_TRUE(store->GetTable(Request("emb")).ok());
  // Any int64 id: a new one reads as its initial row.
  auto gathered = store->GatherRows("emb", {int64_t{1} << 40, -5});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_THAT(Floats(gathered->rows), ElementsAre(0.5, 0.5, 0.5, 0.5));
  EXPECT_EQ(gathered->info.shape, (TensorShape{1000, 2}));

  const std::vector<int64_t> ids = {-5};
  const std::string gradient = Bytes({1, -1});
  RowUpdateSpec push;
  push.name = "emb";
  push.kind = UpdateKind::kApplyGradient;
  push.optimizer.kind = OptimizerKind::kAdagrad;
  push.optimizer.learning_rate = 0.1;
  push.ids = ids;
  push.rows = gradient;
  auto pushed = store->PushRows(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->version, 2);  // One step.
  gathered = store->GatherRows("emb", {-5});
  ASSERT_TRUE(gathered.ok());
  const float step = 0.1f / std::sqrt(1.1f);
  EXPECT_THAT(Floats(gathered->rows),
              ElementsAre(testing::FloatNear(0.5f - step, 1e-6),
                          testing::FloatNear(0.5f + step, 1e-6)));

  auto info = store->GetTableInfo("emb");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.stored_rows, 2);
  EXPECT_EQ(info->stats.steps, 1);

  // What tables do not take yet is refused, changing nothing.
  push.push_id = "retry-1";
  EXPECT_EQ(store->PushRows(push).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> offsets = {0};
  EXPECT_EQ(store->LookupSparse("emb", ids, {offsets, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  push.push_id.clear();
  push.rows = absl::string_view(gradient).substr(0, 4);
  EXPECT_EQ(store->PushRows(push).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetTableInfo("emb")->stats.steps, 1);
}

TEST(StoreTablesTest, ATableCountsItsCapacityAgainstTheMemoryLimit) {
  // 1000 rows x (2 floats + an Adagrad slot's 2: 16 bytes, + 64) = 80,000.
  auto store = *VariableStore::Create(
      {.max_variable_bytes = 100000, .max_total_bytes = 100000});
  ASSERT_TRUE(store->GetTable(Request("a")).ok());
  EXPECT_EQ(store->total_bytes(), 80000u);
  const absl::Status second = store->GetTable(Request("b")).status();
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(second.message(), HasSubstr("Dynamic table b"));
  auto deleted = store->DeleteVariable("a");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, ElementsAre("a"));
  EXPECT_EQ(store->total_bytes(), 0u);
  EXPECT_TRUE(store->GetTable(Request("b")).ok());
  EXPECT_EQ(store->GatherRows("a", {1}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(StoreTablesTest, DeleteScopeTakesTablesWithVariables) {
  auto store = *VariableStore::Create({});
  ASSERT_TRUE(store->GetTable(Request("model/emb")).ok());
  ASSERT_TRUE(store->GetTable(Request("model_2/emb")).ok());
  VariableRequest variable;
  variable.name = "model/dense";
  variable.shape = TensorShape{2};
  ASSERT_TRUE(store->GetVariable(variable).ok());
  auto deleted = store->DeleteScope("model");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, ElementsAre("model/dense", "model/emb"));
  EXPECT_EQ(store->num_tables(), 1u);
}

}  // namespace
}  // namespace paramserver
