// The client's TensorFlow-style scopes against the real server: the seed's
// sharing examples, and workers on several threads sharing one store.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/get_variable.h"
#include "client/variable_scope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class VariableScopeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = ParameterServerClient::Connect(server_->target());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ParameterServerClient> client_;
  FreshScopeStore fresh_scopes_;
};

// with tf.variable_scope("foo"):
//     v = tf.get_variable("v", [1])
//     tf.get_variable_scope().reuse_variables()
//     v1 = tf.get_variable("v", [1])
// assert v1 == v
TEST_F(VariableScopeE2ETest, ReuseVariablesInsideTheScope) {
  VariableScope foo("foo");
  absl::StatusOr<FetchedVariable> v =
      GetVariable(*client_, "v", {{1}}, {}, true);
  ASSERT_TRUE(v.ok()) << v.status();
  ReuseVariables();
  absl::StatusOr<FetchedVariable> v1 =
      GetVariable(*client_, "v", {{1}}, {}, true);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->info.name, "foo/v");
  EXPECT_EQ(v1->info.name, v->info.name);
  EXPECT_EQ(v1->value, v->value);
  EXPECT_FALSE(v1->created);
}

// with tf.variable_scope("foo"): v = tf.get_variable("v", [1])
// with tf.variable_scope("foo", reuse=True): v1 = tf.get_variable("v", [1])
TEST_F(VariableScopeE2ETest, ReenteringWithReuseTrue) {
  {
    VariableScope foo("foo");
    ASSERT_TRUE(GetVariable(*client_, "v", {{1}}).ok());
  }
  {
    VariableScope foo("foo", {.reuse = ScopeReuse::kReuse});
    absl::StatusOr<FetchedVariable> v1 = GetVariable(*client_, "v", {{1}});
    ASSERT_TRUE(v1.ok()) << v1.status();
    EXPECT_EQ(v1->info.name, "foo/v");
    // Reuse is inherited and cannot be undone by a child scope.
    VariableScope bar("bar");
    absl::Status missing = GetVariable(*client_, "w", {{1}}).status();
    EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(missing.message(),
                HasSubstr("Variable foo/bar/w does not exist"));
  }
}

TEST_F(VariableScopeE2ETest, CreatingTwiceWithoutReuseIsTheServersError) {
  VariableScope foo("foo");
  ASSERT_TRUE(GetVariable(*client_, "v", {{1}}).ok());
  absl::Status again = GetVariable(*client_, "v", {{1}}).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(),
            "Variable foo/v already exists, disallowed. Did you mean to set "
            "reuse=True or reuse=tf.AUTO_REUSE in VarScope?");
}

// TF checks the full name once: inside variable_scope("s") the name "_x" is
// fine ("s/_x"), at the top level it is not; the scope "s" with "_x" and the
// top level with "s/_x" are one variable.
TEST_F(VariableScopeE2ETest, NamesAreCheckedAsFullNames) {
  {
    VariableScope s("s");
    absl::StatusOr<FetchedVariable> x = GetVariable(*client_, "_x", {{1}});
    ASSERT_TRUE(x.ok()) << x.status();
    EXPECT_EQ(x->info.name, "s/_x");
  }
  absl::StatusOr<FetchedVariable> same =
      GetVariable(*client_, "s/_x", {{1}}, {}, false);
  EXPECT_EQ(same.status().code(), absl::StatusCode::kAlreadyExists);
  absl::Status top = GetVariable(*client_, "_x", {{1}}).status();
  EXPECT_EQ(top.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(top.message(), HasSubstr("'_x'"));
}

// An int64 constant beyond 2^53 reaches the server and comes back exactly,
// and a short list fills as TF's constant_initializer does.
TEST_F(VariableScopeE2ETest, Int64ConstantsAreExact) {
  constexpr int64_t kBig = (int64_t{1} << 53) + 1;
  InitializerSpec constant;
  constant.kind = InitializerKind::kConstant;
  constant.values = {kBig, -kBig};
  absl::StatusOr<FetchedVariable> ids =
      GetVariable(*client_, "ids", {{3}},
                  {.dtype = DType::kInt64, .initializer = constant}, true);
  ASSERT_TRUE(ids.ok()) << ids.status();
  int64_t values[3];
  ASSERT_EQ(ids->value.size(), sizeof(values));
  std::memcpy(values, ids->value.data(), sizeof(values));
  EXPECT_EQ(values[0], kBig);
  EXPECT_EQ(values[1], -kBig);
  EXPECT_EQ(values[2], -kBig);
}

// TF's get_variable("v", initializer=0.25) without a shape is a scalar; as in
// TF (testInitializeFromValue) the value may come from the scope.
TEST_F(VariableScopeE2ETest, SingleConstantWithoutShapeIsAScalar) {
  InitializerSpec constant;
  constant.kind = InitializerKind::kConstant;
  constant.values = {0.25};
  VariableScope scope("from_value", {.initializer = constant});
  absl::StatusOr<FetchedVariable> v =
      GetVariable(*client_, "v", std::nullopt, {}, true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->info.shape, TensorShape{});
  float value = 0;
  ASSERT_EQ(v->value.size(), sizeof(value));
  std::memcpy(&value, v->value.data(), sizeof(value));
  EXPECT_EQ(value, 0.25f);
}

TEST_F(VariableScopeE2ETest, ScopeDefaultsReachTheServer) {
  InitializerSpec ones;
  ones.kind = InitializerKind::kOnes;
  VariableScope scope("layer", {.initializer = ones, .dtype = DType::kDouble});
  absl::StatusOr<FetchedVariable> b =
      GetVariable(*client_, "b", {{2}}, {}, true);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->info.dtype, DType::kDouble);
  double values[2];
  ASSERT_EQ(b->value.size(), sizeof(values));
  std::memcpy(values, b->value.data(), sizeof(values));
  EXPECT_EQ(values[0], 1.0);
  EXPECT_EQ(values[1], 1.0);
}

TEST_F(VariableScopeE2ETest, DefaultNameScopesCreateDistinctVariables) {
  for (int i = 0; i < 3; ++i) {
    VariableScope layer = VariableScope::WithDefaultName("dense");
    ASSERT_TRUE(GetVariable(*client_, "kernel", {{4, 4}}).ok());
  }
  absl::StatusOr<std::vector<VariableInfo>> listed = client_->ListVariables("");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ::testing::ElementsAre("dense/kernel", "dense_1/kernel",
                                            "dense_2/kernel"));
}

// Scopes are per thread, the store is shared: towers on several threads,
// each under AUTO_REUSE, end up with one set of weights.
TEST_F(VariableScopeE2ETest, ThreadsHaveTheirOwnScopesButShareVariables) {
  constexpr int kTowers = 4;
  std::vector<std::string> names(kTowers);
  std::vector<int> created(kTowers);  // Not vector<bool>: its bits share words.
  std::vector<std::thread> threads;
  for (int i = 0; i < kTowers; ++i) {
    threads.emplace_back([&, i] {
      EXPECT_EQ(CurrentScope().name, "");  // A new thread starts at the top.
      VariableScope model("model", {.reuse = ScopeReuse::kAutoReuse});
      absl::StatusOr<FetchedVariable> w = GetVariable(*client_, "w", {{8}});
      ASSERT_TRUE(w.ok()) << w.status();
      names[i] = w->info.name;
      created[i] = w->created;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::count(created.begin(), created.end(), 1), 1);
  for (const std::string& name : names) EXPECT_EQ(name, "model/w");
}

}  // namespace
}  // namespace paramserver
