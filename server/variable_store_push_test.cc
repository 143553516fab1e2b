#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *VariableStore::Create({}); }

  void Create(const std::string& name, std::vector<float> values) {
    VariableRequest request;
    request.name = name;
    request.shape = TensorShape{static_cast<int64_t>(values.size())};
    request.initializer.kind = InitializerKind::kConstant;
    request.initializer.values.assign(values.begin(), values.end());
    ASSERT_TRUE(store_->GetVariable(request).ok());
  }

  std::vector<float> Read(const std::string& name) {
    auto snapshot = store_->ReadVariable(name);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    std::vector<float> values(snapshot->value->size() / sizeof(float));
    std::memcpy(values.data(), snapshot->value->data(),
                snapshot->value->size());
    return values;
  }

  static std::string Bytes(const std::vector<float>& values) {
    return std::string(reinterpret_cast<const char*>(values.data()),
                       values.size() * sizeof(float));
  }

  absl::StatusOr<std::vector<VariableInfo>> PushOne(
      const std::string& name, UpdateKind kind, const std::string& bytes,
      OptimizerSpec optimizer = {}) {
    PushSpec push;
    push.updates.push_back({name, kind, bytes, std::nullopt});
    push.optimizer = optimizer;
    return store_->Push(push);
  }

  std::unique_ptr<VariableStore> store_;
};

TEST_F(PushTest, AssignAndAssignAddBumpTheVersion) {
  Create("v", {1, 2, 3});
  auto assigned = PushOne("v", UpdateKind::kAssign, Bytes({4, 5, 6}));
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_EQ((*assigned)[0].version, 2);
  EXPECT_THAT(Read("v"), ElementsAre(4, 5, 6));
  auto added = PushOne("v", UpdateKind::kAssignAdd, Bytes({1, 1, -6}));
  ASSERT_TRUE(added.ok());
  EXPECT_EQ((*added)[0].version, 3);
  EXPECT_THAT(Read("v"), ElementsAre(5, 6, 0));
}

TEST_F(PushTest, SnapshotsDoNotChangeUnderTheirReaders) {
  Create("v", {1, 2});
  auto before = store_->ReadVariable("v");
  ASSERT_TRUE(PushOne("v", UpdateKind::kAssign, Bytes({7, 8})).ok());
  float held[2];
  std::memcpy(held, before->value->data(), sizeof(held));
  EXPECT_THAT(held, ElementsAre(1, 2));
  EXPECT_THAT(Read("v"), ElementsAre(7, 8));
}

TEST_F(PushTest, SgdMomentumNesterovAdagradAdamFollowTensorFlow) {
  Create("sgd", {1.0f});
  OptimizerSpec sgd;
  sgd.learning_rate = 0.5;
  ASSERT_TRUE(PushOne("sgd", UpdateKind::kApplyGradient, Bytes({2}), sgd).ok());
  EXPECT_THAT(Read("sgd"), ElementsAre(0.0f));

  Create("m", {1.0f});
  OptimizerSpec momentum;
  momentum.kind = OptimizerKind::kMomentum;
  momentum.learning_rate = 0.1;
  momentum.momentum = 0.9;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        PushOne("m", UpdateKind::kApplyGradient, Bytes({1}), momentum).ok());
  }
  // accum: 1, then 1.9; var: 1 - 0.1 - 0.19.
  EXPECT_THAT(Read("m"), Pointwise(FloatNear(1e-6), {0.71f}));
  EXPECT_THAT(Read("m/Momentum"), Pointwise(FloatNear(1e-6), {1.9f}));

  Create("n", {1.0f});
  momentum.use_nesterov = true;
  ASSERT_TRUE(
      PushOne("n", UpdateKind::kApplyGradient, Bytes({1}), momentum).ok());
  // accum = 1; var -= 0.1 * 1 + 0.1 * 0.9 * 1.
  EXPECT_THAT(Read("n"), Pointwise(FloatNear(1e-6), {0.81f}));

  Create("a", {1.0f});
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  adagrad.learning_rate = 0.1;
  ASSERT_TRUE(
      PushOne("a", UpdateKind::kApplyGradient, Bytes({2}), adagrad).ok());
  // accum = 0.1 + 4; var -= 0.1 * 2 / sqrt(4.1).
  EXPECT_THAT(Read("a"),
              Pointwise(FloatNear(1e-6), {1 - 0.2f / std::sqrt(4.1f)}));
  EXPECT_THAT(Read("a/Adagrad"), Pointwise(FloatNear(1e-6), {4.1f}));

  Create("adam", {1.0f});
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  adam.learning_rate = 0.001;
  ASSERT_TRUE(
      PushOne("adam", UpdateKind::kApplyGradient, Bytes({3}), adam).ok());
  // Step 1: m = 0.3, v = 0.009, lr_t = 0.001 * sqrt(0.001) / 0.1;
  // var -= lr_t * 0.3 / (sqrt(0.009) + 1e-8) = 0.001.
  EXPECT_THAT(Read("adam"), Pointwise(FloatNear(1e-6), {0.999f}));
  EXPECT_THAT(Read("adam/Adam"), Pointwise(FloatNear(1e-6), {0.3f}));
  EXPECT_THAT(Read("adam/Adam_1"), Pointwise(FloatNear(1e-6), {0.009f}));
}

TEST_F(PushTest, FtrlKeepsTensorFlowsSlots) {
  Create("f", {1.0f});
  OptimizerSpec ftrl;
  ftrl.kind = OptimizerKind::kFtrl;
  ftrl.learning_rate = 3.0;
  ASSERT_TRUE(
      PushOne("f", UpdateKind::kApplyGradient, Bytes({0.1f}), ftrl).ok());
  // accum: 0.1 -> 0.11; linear = 0.1 - (sqrt(0.11) - sqrt(0.1)) / 3 * 1;
  // var = -linear / (sqrt(0.11) / 3).
  const float linear = 0.1f - (std::sqrt(0.11f) - std::sqrt(0.1f)) / 3;
  EXPECT_THAT(Read("f/Ftrl"), Pointwise(FloatNear(1e-6), {0.11f}));
  EXPECT_THAT(Read("f/Ftrl_1"), Pointwise(FloatNear(1e-6), {linear}));
  EXPECT_THAT(Read("f"),
              Pointwise(FloatNear(1e-6), {-linear / (std::sqrt(0.11f) / 3)}));
}

TEST_F(PushTest, SlotsAreListedNotTrainableAndDeletedWithTheirVariable) {
  Create("w", {0, 0});
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  ASSERT_TRUE(
      PushOne("w", UpdateKind::kApplyGradient, Bytes({1, 1}), adam).ok());
  auto listed = store_->ListVariables("w");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3);
  EXPECT_EQ((*listed)[1].name, "w/Adam");
  EXPECT_FALSE((*listed)[1].trainable);
  // Slots do not depend on the caller's reuse flag: a second step reuses them.
  ASSERT_TRUE(
      PushOne("w", UpdateKind::kApplyGradient, Bytes({1, 1}), adam).ok());
  EXPECT_THAT(*store_->DeleteVariable("w"),
              ElementsAre("w", "w/Adam", "w/Adam_1"));
  EXPECT_EQ(store_->num_variables(), 0);
  EXPECT_EQ(store_->total_bytes(), 0);
}

TEST_F(PushTest, BadPushesApplyNothing) {
  Create("a", {1, 1});
  Create("b", {2, 2});
  PushSpec push;
  const std::string good = Bytes({5, 5}), short_value = Bytes({5});
  push.updates = {{"a", UpdateKind::kAssign, good, std::nullopt},
                  {"b", UpdateKind::kAssign, short_value, std::nullopt}};
  absl::Status status = store_->Push(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Value for b has 4 bytes; shape (2,) and dtype float32 need 8.");
  EXPECT_THAT(Read("a"), ElementsAre(1, 1));

  push.updates = {{"a", UpdateKind::kAssign, good, std::nullopt},
                  {"a", UpdateKind::kAssign, good, std::nullopt}};
  EXPECT_THAT(store_->Push(push).status().message(),
              HasSubstr("appears twice"));
  push.updates = {{"a", UpdateKind::kAssign, good, std::nullopt},
                  {"zz", UpdateKind::kAssign, good, std::nullopt}};
  EXPECT_EQ(store_->Push(push).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Read("a"), ElementsAre(1, 1));
  EXPECT_EQ(store_->ReadVariable("a")->info.version, 1);
}

TEST_F(PushTest, AFailedPushLeavesNoSlotsBehind) {
  Create("w", {0, 0});
  Create("v", {0, 0});
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  const std::string grad = Bytes({1, 1});
  // A gradient for w and an assignment to a missing variable.
  PushSpec push;
  push.optimizer = adam;
  push.updates = {{"w", UpdateKind::kApplyGradient, grad, std::nullopt},
                  {"missing", UpdateKind::kAssign, grad, std::nullopt}};
  EXPECT_EQ(store_->Push(push).status().code(), absl::StatusCode::kNotFound);
  // Refused after the slots exist: v's gradient is too stale.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(PushOne("v", UpdateKind::kAssignAdd, Bytes({0, 0})).ok());
  }
  push.max_staleness = 1;
  push.updates = {{"w", UpdateKind::kApplyGradient, grad, std::nullopt},
                  {"v", UpdateKind::kApplyGradient, grad, int64_t{1}}};
  EXPECT_EQ(store_->Push(push).status().code(), absl::StatusCode::kAborted);
  auto listed = store_->ListVariables("");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("v", "w"));
  EXPECT_EQ(store_->total_bytes(), 16);
  EXPECT_THAT(Read("w"), ElementsAre(0, 0));
}

// A failed push discards the slots it created, but not slots that a
// concurrent push found and applied to: that push's optimizer state would
// vanish while its variable kept the step.
TEST_F(PushTest, AFailedPushKeepsSlotsAnotherPushUses) {
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  const std::string grad = Bytes({1, 1});
  const std::vector<float> big(1 << 20, 0.0f);
  for (int round = 0; round < 40; ++round) {
    const std::string w = absl::StrCat("w", round);
    const std::string x = absl::StrCat("x", round);
    const std::string v = absl::StrCat("v", round);
    Create(w, {0, 0});
    Create(x, big);
    Create(v, {0, 0});
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(PushOne(v, UpdateKind::kAssignAdd, Bytes({0, 0})).ok());
    }
    // Creates w's slots, then x's (large: this takes a while), then fails:
    // v's gradient is too stale.
    PushSpec failing;
    failing.optimizer = adam;
    failing.max_staleness = 1;
    failing.updates = {
        {w, UpdateKind::kApplyGradient, grad, std::nullopt},
        {x, UpdateKind::kApplyGradient, Bytes(big), std::nullopt},
        {v, UpdateKind::kApplyGradient, grad, int64_t{1}}};
    std::atomic<bool> failed{false};
    std::thread failer([&] {
      EXPECT_EQ(store_->Push(failing).status().code(),
                absl::StatusCode::kAborted);
      failed = true;
    });
    // As soon as w's slots appear (if they are not gone already), a second
    // push applies a step to w.
    while (!failed && !store_->ReadVariable(w + "/Adam_1").ok()) {
      std::this_thread::yield();
    }
    auto applied = PushOne(w, UpdateKind::kApplyGradient, grad, adam);
    failer.join();
    ASSERT_TRUE(applied.ok()) << applied.status();
    // One Adam step on w: its slots exist and carry that step.
    for (const char* slot : {"/Adam", "/Adam_1"}) {
      auto info = store_->ReadVariable(w + slot);
      ASSERT_TRUE(info.ok()) << "round " << round << ": " << info.status();
      EXPECT_EQ(info->info.version, 2) << w << slot;
    }
    // x's slots were the failed push's alone.
    EXPECT_FALSE(store_->ReadVariable(x + "/Adam").ok());
  }
}

TEST_F(PushTest, APushThatDoesNotFitCreatesNoSlots) {
  store_ =
      *VariableStore::Create({.max_variable_bytes = 8, .max_total_bytes = 40});
  Create("a", {0, 0});
  Create("b", {0, 0});
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  const std::string grad = Bytes({1, 1});
  PushSpec push;
  push.optimizer = adam;
  // a's two slots fit (32 of 40 bytes), b's do not.
  push.updates = {{"a", UpdateKind::kApplyGradient, grad, std::nullopt},
                  {"b", UpdateKind::kApplyGradient, grad, std::nullopt}};
  EXPECT_EQ(store_->Push(push).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->num_variables(), 2);
  EXPECT_EQ(store_->total_bytes(), 16);
}

TEST_F(PushTest, CheckPushHeaderRefusesBeforeAnyValueArrives) {
  Create("a", {1, 1});
  VariableRequest request;
  request.name = "flag";
  request.shape = TensorShape{3};
  request.dtype = DType::kBool;
  ASSERT_TRUE(store_->GetVariable(request).ok());
  PushSpec push;
  push.updates = {{"a", UpdateKind::kAssign, {}, std::nullopt},
                  {"flag", UpdateKind::kAssign, {}, std::nullopt}};
  auto sizes = store_->CheckPushHeader(push);
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_THAT(*sizes, ElementsAre(8, 3));

  push.updates[1].kind = UpdateKind::kAssignAdd;
  EXPECT_THAT(store_->CheckPushHeader(push).status().message(),
              HasSubstr("Cannot assign_add to flag of dtype bool."));
  push.updates = {{"a", UpdateKind::kAssign, {}, std::nullopt},
                  {"a", UpdateKind::kAssign, {}, std::nullopt}};
  EXPECT_THAT(store_->CheckPushHeader(push).status().message(),
              HasSubstr("Variable a appears twice in one push."));
  push.updates = {{"gone", UpdateKind::kAssign, {}, std::nullopt}};
  EXPECT_EQ(store_->CheckPushHeader(push).status().code(),
            absl::StatusCode::kNotFound);
  push.updates.assign(kMaxUpdatesPerPush + 1,
                      {"a", UpdateKind::kAssign, {}, std::nullopt});
  const absl::Status too_many = store_->CheckPushHeader(push).status();
  EXPECT_EQ(too_many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      too_many.message(),
      HasSubstr(absl::StrCat("at most ", kMaxUpdatesPerPush, " updates")));
  EXPECT_EQ(store_->Push(push).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PushTest, ReservationsCountAgainstTheTotalLimit) {
  store_ =
      *VariableStore::Create({.max_variable_bytes = 16, .max_total_bytes = 32});
  Create("a", {1, 2, 3, 4});
  {
    auto held = store_->Reserve(16, "a push");
    ASSERT_TRUE(held.ok()) << held.status();
    const absl::Status full = store_->Reserve(1, "another push").status();
    EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(full.message(), HasSubstr("another push"));
    // Variables see the reservation too.
    VariableRequest request;
    request.name = "b";
    request.shape = TensorShape{1};
    EXPECT_EQ(store_->GetVariable(request).status().code(),
              absl::StatusCode::kResourceExhausted);
    VariableStore::Reservation moved = *std::move(held);
    EXPECT_EQ(store_->reserved_bytes(), 16);
  }
  EXPECT_EQ(store_->reserved_bytes(), 0);
  EXPECT_TRUE(store_->Reserve(16, "a push").ok());
}

TEST_F(PushTest, GradientsNeedFloatingVariablesAndValidOptimizers) {
  VariableRequest request;
  request.name = "step";
  request.shape = TensorShape{};
  request.dtype = DType::kInt64;
  ASSERT_TRUE(store_->GetVariable(request).ok());
  EXPECT_THAT(PushOne("step", UpdateKind::kApplyGradient, std::string(8, '\0'))
                  .status()
                  .message(),
              HasSubstr("gradients need a floating dtype"));
  // assign_add works on integers: a global step counter.
  int64_t one = 1;
  ASSERT_TRUE(PushOne("step", UpdateKind::kAssignAdd,
                      std::string(reinterpret_cast<char*>(&one), 8))
                  .ok());
  Create("v", {1});
  OptimizerSpec bad;
  bad.learning_rate = -1;
  EXPECT_EQ(
      PushOne("v", UpdateKind::kApplyGradient, Bytes({1}), bad).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(PushTest, StaleGradientsAreRejected) {
  Create("v", {0});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(PushOne("v", UpdateKind::kAssignAdd, Bytes({1})).ok());
  }
  PushSpec push;
  const std::string grad = Bytes({1});
  push.max_staleness = 2;
  push.updates = {{"v", UpdateKind::kApplyGradient, grad, int64_t{3}}};
  absl::Status stale = store_->Push(push).status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(stale.message(),
            "Update of v was computed at version 3, 3 versions behind the "
            "current 6; max_staleness is 2. Pull the variable and recompute.");
  push.updates[0].base_version = 4;
  EXPECT_TRUE(store_->Push(push).ok());
}

TEST_F(PushTest, ConditionalPullSendsAVersionOlderThanTheCallers) {
  // After a restore that lost updates the server's version can be lower than
  // the one a worker holds; the worker must get the restored value.
  Create("a", {1});
  auto pulled = store_->Pull({{"a", 5}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_FALSE((*pulled)[0].unchanged);
  EXPECT_EQ((*pulled)[0].info.version, 1);
  EXPECT_NE((*pulled)[0].value, nullptr);
}

TEST_F(PushTest, ConditionalPullSkipsCurrentValues) {
  Create("a", {1});
  Create("b", {2});
  ASSERT_TRUE(PushOne("b", UpdateKind::kAssign, Bytes({3})).ok());
  auto pulled = store_->Pull({{"a", 1}, {"b", 1}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_TRUE((*pulled)[0].unchanged);
  EXPECT_EQ((*pulled)[0].value, nullptr);
  EXPECT_FALSE((*pulled)[1].unchanged);
  EXPECT_EQ((*pulled)[1].info.version, 2);
  ASSERT_NE((*pulled)[1].value, nullptr);
  EXPECT_EQ(store_->Pull({{"a", 0}, {"nope", 0}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PushTest, ConcurrentPushesLoseNoUpdate) {
  Create("counter", {0, 0});
  constexpr int kThreads = 8, kPushes = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const std::string one = Bytes({1, 2});
      for (int i = 0; i < kPushes; ++i) {
        ASSERT_TRUE(PushOne("counter", UpdateKind::kAssignAdd, one).ok());
        // Readers in between keep copy-on-write busy.
        ASSERT_TRUE(store_->ReadVariable("counter").ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(Read("counter"),
              ElementsAre(kThreads * kPushes, 2 * kThreads * kPushes));
  EXPECT_EQ(store_->ReadVariable("counter")->info.version,
            1 + kThreads * kPushes);
}

TEST_F(PushTest, PushesOverOverlappingSetsDoNotDeadlock) {
  Create("x", {0});
  Create("y", {0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string one = Bytes({1});
      for (int i = 0; i < 200; ++i) {
        PushSpec push;
        // Opposite orders in alternate threads.
        push.updates = {
            {t % 2 ? "x" : "y", UpdateKind::kAssignAdd, one, std::nullopt},
            {t % 2 ? "y" : "x", UpdateKind::kAssignAdd, one, std::nullopt}};
        ASSERT_TRUE(store_->Push(push).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(Read("x"), ElementsAre(800));
  EXPECT_THAT(Read("y"), ElementsAre(800));
}

}  // namespace
}  // namespace paramserver
