// Dynamic tables against the real server over gRPC: made with
// get_variable's reuse rules, rows for any int64 id, sparse steps on stored
// rows, counters, precise errors, and rows that outlive kill -9.

#include <signal.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TableRequest Users(ReuseMode reuse = ReuseMode::kAutoReuse) {
  TableRequest request;
  request.name = "emb/users";
  request.reuse = reuse;
  request.spec.width = 8;
  request.spec.capacity = 100000;
  request.spec.initializer.kind = InitializerKind::kTruncatedNormal;
  request.spec.initializer.stddev = 0.05;
  request.spec.optimizer = OptimizerKind::kAdagrad;
  request.spec.admit_after = 2;
  return request;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

TEST(TablesE2ETest, TablesServeRowsForAnyIdAndKeepThemAcrossKill9) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/tables_kill9";
  const std::vector<std::string> flags = {"--data_dir=" + dir};
  const std::vector<int64_t> ids = {int64_t{1} << 50, -42, 7, -42};
  std::string stepped;
  int64_t seed = 0;
  {
    std::vector<std::string> first_start = flags;
    first_start.push_back("--initialize_data_dir");
    auto server = ServerProcess::Start(first_start);
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = ParameterServerClient::Connect((*server)->target());
    ASSERT_TRUE(client.ok()) << client.status();
    auto made = (*client)->GetTable(Users(ReuseMode::kCreate));
    ASSERT_TRUE(made.ok()) << made.status();
    EXPECT_TRUE(made->created);
    ASSERT_TRUE(made->spec.initializer.seed.has_value());
    seed = *made->spec.initializer.seed;
    EXPECT_EQ((*client)->GetTable(Users(ReuseMode::kCreate)).status().code(),
              absl::StatusCode::kAlreadyExists);

    // First sighting: initial rows, nothing stored (admit_after 2).
    auto first = (*client)->GatherRows("emb/users", {7, -42});
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->rows.size(), 2 * 8 * sizeof(float));
    auto counted = (*client)->GetTableStats("emb/users");
    ASSERT_TRUE(counted.ok()) << counted.status();
    EXPECT_EQ(counted->counters.stored_rows, 0);
    // Second sighting of 7 and -42 (twice in this call): stored.
    auto second = (*client)->GatherRows("emb/users", ids);
    ASSERT_TRUE(second.ok()) << second.status();
    const std::vector<float> rows = Floats(second->rows);
    // Row 7 (third) is the row the first gather returned for 7 (first).
    const std::vector<float> first_rows = Floats(first->rows);
    EXPECT_EQ(std::vector<float>(rows.begin() + 16, rows.begin() + 24),
              std::vector<float>(first_rows.begin(), first_rows.begin() + 8));
    counted = (*client)->GetTableStats("emb/users");
    ASSERT_TRUE(counted.ok());
    EXPECT_EQ(counted->counters.stored_rows, 2);  // 7 and -42; not 2^50.

    // A gradient step on stored and unstored ids: the unstored one drops.
    const std::string gradient = Bytes(std::vector<float>(3 * 8, 1.0f));
    const std::vector<int64_t> pushed_ids = {7, -42, int64_t{1} << 50};
    RowUpdateSpec push;
    push.name = "emb/users";
    push.kind = UpdateKind::kApplyGradient;
    push.optimizer.kind = OptimizerKind::kAdagrad;
    push.optimizer.learning_rate = 0.5;
    push.ids = pushed_ids;
    push.rows = gradient;
    auto pushed = (*client)->PushRows(push);
    ASSERT_TRUE(pushed.ok()) << pushed.status();
    EXPECT_EQ(pushed->version, 2);
    counted = (*client)->GetTableStats("emb/users");
    ASSERT_TRUE(counted.ok());
    EXPECT_EQ(counted->counters.steps, 1);
    EXPECT_EQ(counted->counters.dropped_gradient_rows, 1);
    auto after = (*client)->GatherRows("emb/users", {7, -42});
    ASSERT_TRUE(after.ok());
    stepped = after->rows;
    const std::vector<float> moved = Floats(stepped);
    EXPECT_NEAR(moved[0], rows[16] - 0.5f / std::sqrt(1.1f), 1e-5);

    // Bad requests: precise errors, and the table keeps serving.
    TableRequest unbounded = Users(ReuseMode::kCreate);
    unbounded.name = "emb/unbounded";
    unbounded.spec.capacity = 0;
    const absl::Status refused = (*client)->GetTable(unbounded).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.message(), HasSubstr("needs a capacity"));
    TableRequest adam = Users(ReuseMode::kCreate);
    adam.name = "emb/adam";
    adam.spec.optimizer = OptimizerKind::kAdam;
    EXPECT_THAT((*client)->GetTable(adam).status().message(),
                HasSubstr("LazyAdam"));
    push.optimizer.kind = OptimizerKind::kFtrl;
    EXPECT_THAT((*client)->PushRows(push).status().message(),
                HasSubstr("keeps the slots of Adagrad"));
    EXPECT_EQ((*client)->GetTableStats("emb/none").status().code(),
              absl::StatusCode::kNotFound);
    VariableRequest variable;
    variable.name = "emb/users";
    variable.shape = TensorShape{2};
    EXPECT_THAT((*client)->GetVariable(variable).status().message(),
                HasSubstr("is a dynamic table"));
    (*server)->StopWith(SIGKILL);
  }
  auto restarted = ServerProcess::Start(flags);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto client = ParameterServerClient::Connect((*restarted)->target());
  ASSERT_TRUE(client.ok()) << client.status();
  auto reused = (*client)->GetTable(Users(ReuseMode::kReuse));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_EQ(*reused->spec.initializer.seed, seed);
  EXPECT_EQ(reused->counters.stored_rows, 2);
  EXPECT_EQ(reused->counters.steps, 1);
  auto gathered = (*client)->GatherRows("emb/users", {7, -42});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->rows, stepped);
}

}  // namespace
}  // namespace paramserver
