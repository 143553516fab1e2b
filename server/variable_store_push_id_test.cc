// Push ids: a repeated push applies once and gets the first answer.

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PushIdTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset({}); }

  void Reset(const StoreOptions& options) {
    store_ = *VariableStore::Create(options);
    VariableRequest request;
    request.name = "v";
    request.shape = TensorShape{2};
    request.initializer.kind = InitializerKind::kConstant;
    request.initializer.values = {0};
    ASSERT_TRUE(store_->GetVariable(request).ok());
  }

  static PushSpec AddOne(const std::string& id) {
    static const float ones[2] = {1,
                                  1};  // Static: an update's value is a view.
    PushSpec push;
    push.push_id = id;
    push.updates.push_back(
        {"v", UpdateKind::kAssignAdd,
         absl::string_view(reinterpret_cast<const char*>(ones), sizeof(ones)),
         std::nullopt});
    return push;
  }

  std::vector<float> Value() {
    auto snapshot = store_->ReadVariable("v");
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    std::vector<float> values(2);
    std::memcpy(values.data(), snapshot->value->data(), 2 * sizeof(float));
    return values;
  }
  int64_t Version() { return store_->ReadVariable("v")->info.version; }

  std::unique_ptr<VariableStore> store_;
};

TEST_F(PushIdTest, RepeatAppliesOnceAndGetsTheFirstAnswer) {
  auto first = store_->Push(AddOne("step-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)[0].version, 2);
  // Another push moves the variable on; the repeat still gets version 2.
  ASSERT_TRUE(store_->Push(AddOne("step-2")).ok());
  auto repeat = store_->Push(AddOne("step-1"));
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  ASSERT_EQ(repeat->size(), 1u);
  EXPECT_EQ((*repeat)[0].name, "v");
  EXPECT_EQ((*repeat)[0].version, 2);
  EXPECT_EQ((*repeat)[0].shape, (TensorShape{2}));
  EXPECT_EQ(Version(), 3);
  EXPECT_THAT(Value(), ElementsAre(2, 2));
}

TEST_F(PushIdTest, AnIdReusedForOtherVariablesIsRefused) {
  ASSERT_TRUE(store_->Push(AddOne("step-1")).ok());
  // The same id on a push of nothing, or of two updates, does not fit the
  // first answer: refused, and nothing applied. (The store fuzzer found the
  // answer of the first push coming back for a push of other variables.)
  PushSpec empty;
  empty.push_id = "step-1";
  PushSpec twice = AddOne("step-1");
  twice.updates.push_back(twice.updates[0]);
  twice.updates[1].name = "w";
  for (const PushSpec& other : {empty, twice}) {
    absl::Status s = store_->Push(other).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()),
                ::testing::HasSubstr("push_id step-1 was already used"));
  }
  EXPECT_EQ(Version(), 2);
  EXPECT_THAT(Value(), ElementsAre(1, 1));
}

TEST_F(PushIdTest, WithoutIdEveryPushApplies) {
  ASSERT_TRUE(store_->Push(AddOne("")).ok());
  ASSERT_TRUE(store_->Push(AddOne("")).ok());
  EXPECT_THAT(Value(), ElementsAre(2, 2));
  EXPECT_EQ(store_->RememberedPushes().size(), 0u);
}

TEST_F(PushIdTest, ConcurrentRepeatsApplyExactlyOnce) {
  for (int round = 0; round < 20; ++round) {
    const std::string id = absl::StrCat("round-", round);
    constexpr int kThreads = 8;
    std::vector<int64_t> versions(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto infos = store_->Push(AddOne(id));
        versions[t] = infos.ok() ? (*infos)[0].version : -1;
      });
    }
    for (std::thread& thread : threads) thread.join();
    const int64_t expected = round + 2;
    for (int64_t version : versions) EXPECT_EQ(version, expected);
    EXPECT_EQ(Version(), expected);
  }
  EXPECT_THAT(Value(), ElementsAre(20, 20));
}

TEST_F(PushIdTest, FailedPushIsNotRemembered) {
  PushSpec bad = AddOne("retry-me");
  bad.updates[0].value = "short";
  EXPECT_EQ(store_->Push(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  PushSpec stale = AddOne("retry-me");
  stale.max_staleness = 1;
  stale.updates[0].base_version = -5;
  EXPECT_EQ(store_->Push(stale).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Version(), 1);
  ASSERT_TRUE(store_->Push(AddOne("retry-me")).ok());
  EXPECT_THAT(Value(), ElementsAre(1, 1));
  ASSERT_TRUE(store_->Push(AddOne("retry-me")).ok());
  EXPECT_THAT(Value(), ElementsAre(1, 1));
}

TEST_F(PushIdTest, TooLongIdIsRefused) {
  EXPECT_TRUE(store_->Push(AddOne(std::string(64, 'x'))).ok());
  absl::Status status = store_->Push(AddOne(std::string(65, 'x'))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("push_id has 65 bytes; at most 64 are allowed."));
  EXPECT_EQ(
      store_->CheckPushHeader(AddOne(std::string(65, 'x'))).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(PushIdTest, OldestIdIsEvictedPastTheBound) {
  StoreOptions options;
  options.push_ids_to_remember = 2;
  Reset(options);
  for (const char* id : {"a", "b", "c"})
    ASSERT_TRUE(store_->Push(AddOne(id)).ok());
  EXPECT_EQ(store_->RememberedPushes().size(), 2u);
  ASSERT_TRUE(store_->Push(AddOne("c")).ok());  // Remembered: not applied.
  EXPECT_THAT(Value(), ElementsAre(3, 3));
  ASSERT_TRUE(store_->Push(AddOne("a")).ok());  // Evicted: applies again.
  EXPECT_THAT(Value(), ElementsAre(4, 4));
}

TEST_F(PushIdTest, ByteBoundEvictsToo) {
  StoreOptions options;
  options.push_id_bytes =
      2 * PushIdTable::EntryBytes(
              "a", {VariableInfo{"v", {2}, DType::kFloat, 1, true}});
  Reset(options);
  for (const char* id : {"a", "b", "c"})
    ASSERT_TRUE(store_->Push(AddOne(id)).ok());
  std::vector<RememberedPush> remembered = store_->RememberedPushes();
  ASSERT_EQ(remembered.size(), 2u);
  EXPECT_EQ(remembered[0].id, "b");
  EXPECT_EQ(remembered[1].id, "c");
}

TEST_F(PushIdTest, AnswerStandsAfterTheVariableIsDeleted) {
  ASSERT_TRUE(store_->Push(AddOne("p")).ok());
  ASSERT_TRUE(store_->DeleteVariable("v").ok());
  auto repeat = store_->Push(AddOne("p"));
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ((*repeat)[0].version, 2);
}

// Row pushes (PushRows) take push ids as whole pushes do.
class RowPushIdTest : public PushIdTest {
 protected:
  // Adds 1 to row `id` of "v" (2 rows of 1 element) under `push_id`.
  absl::StatusOr<VariableInfo> AddToRow(const std::string& push_id,
                                        int64_t id) {
    RowUpdateSpec push;
    push.name = "v";
    push.kind = UpdateKind::kAssignAdd;
    ids_ = {id};
    push.ids = ids_;
    push.rows =
        absl::string_view(reinterpret_cast<const char*>(&one_), sizeof(one_));
    push.push_id = push_id;
    return store_->PushRows(push);
  }

  std::vector<int64_t> ids_;
  const float one_ = 1;
};

TEST_F(RowPushIdTest, RepeatAppliesOnceAndGetsTheFirstAnswer) {
  auto first = AddToRow("rows-1", 0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version, 2);
  ASSERT_TRUE(AddToRow("rows-2", 1).ok());
  auto repeat = AddToRow("rows-1", 0);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->name, "v");
  EXPECT_EQ(repeat->version, 2);
  EXPECT_EQ(Version(), 3);
  EXPECT_THAT(Value(), ElementsAre(1, 1));
  // Without an id, every call applies.
  ASSERT_TRUE(AddToRow("", 0).ok());
  ASSERT_TRUE(AddToRow("", 0).ok());
  EXPECT_THAT(Value(), ElementsAre(3, 1));
}

TEST_F(RowPushIdTest, AnIdOfAnotherPushIsRefusedAndAFailedOneForgotten) {
  VariableRequest request;
  request.name = "w";
  request.shape = TensorShape{1};
  ASSERT_TRUE(store_->GetVariable(request).ok());
  const float one = 1;
  PushSpec dense;
  dense.push_id = "dense-1";
  dense.updates.push_back(
      {"w", UpdateKind::kAssign,
       absl::string_view(reinterpret_cast<const char*>(&one), sizeof(one)),
       std::nullopt});
  ASSERT_TRUE(store_->Push(dense).ok());
  auto reused = AddToRow("dense-1", 0);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reused.status().message(), HasSubstr("dense-1"));
  EXPECT_THAT(Value(), ElementsAre(0, 0));

  // Row 5 is out of range: the push fails, its id is not remembered, and
  // the retry that fixes it applies.
  EXPECT_EQ(AddToRow("rows-9", 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(AddToRow("rows-9", 1).ok());
  EXPECT_THAT(Value(), ElementsAre(0, 1));

  const std::string too_long(kMaxPushIdBytes + 1, 'x');
  EXPECT_EQ(AddToRow(too_long, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Value(), ElementsAre(0, 1));
}

// The gradient of a pooled lookup is spread to its ids and pushed as a row
// push inside the store: the id is claimed once, not again for the spread.
TEST_F(RowPushIdTest, APooledGradientWithAnIdAppliesOnce) {
  const std::vector<int64_t> ids = {0, 1};
  const std::vector<int64_t> offsets = {0};
  const float bag_gradient = 2;
  RowUpdateSpec push;
  push.name = "v";
  push.kind = UpdateKind::kApplyGradient;
  push.optimizer.learning_rate = 1;
  push.ids = ids;
  push.rows = absl::string_view(reinterpret_cast<const char*>(&bag_gradient),
                                sizeof(bag_gradient));
  push.bags = BagSpec{offsets, {}, Combiner::kSum};
  push.push_id = "bag-1";
  ASSERT_TRUE(store_->PushRows(push).ok());
  ASSERT_TRUE(store_->PushRows(push).ok());
  EXPECT_THAT(Value(), ElementsAre(-2, -2));
  EXPECT_EQ(Version(), 2);
}

}  // namespace
}  // namespace paramserver
