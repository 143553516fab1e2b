#include "server/push_ids.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(PushIdTableTest, WaiterClaimsWhenTheFirstFails) {
  PushIdTable table(16, 1 << 20);
  ASSERT_TRUE(table.Begin("x").claimed);
  std::atomic<bool> claimed{false};
  std::thread waiter([&] {
    PushIdTable::Begun begun = table.Begin("x");
    claimed = begun.claimed;
    if (begun.claimed) {
      table.Answer("x", {VariableInfo{"v", {}, DType::kFloat, 9, true}});
      table.End("x");
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(claimed);
  table.End("x");  // Not answered: the push failed.
  waiter.join();
  EXPECT_TRUE(claimed);
  PushIdTable::Begun again = table.Begin("x");
  EXPECT_FALSE(again.claimed);
  ASSERT_EQ(again.answer.size(), 1u);
  EXPECT_EQ(again.answer[0].version, 9);
}

TEST(PushIdTableTest, WaiterGetsTheAnswerOfTheFirst) {
  PushIdTable table(16, 1 << 20);
  ASSERT_TRUE(table.Begin("x").claimed);
  PushIdTable::Begun seen;
  std::thread waiter([&] { seen = table.Begin("x"); });
  table.Answer("x", {VariableInfo{"v", {}, DType::kFloat, 3, true}});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  table.End("x");
  waiter.join();
  EXPECT_FALSE(seen.claimed);
  ASSERT_EQ(seen.answer.size(), 1u);
  EXPECT_EQ(seen.answer[0].version, 3);
}

TEST(PushIdTableTest, ForgottenAfterAFailedCommitAndEvictedInOrder) {
  PushIdTable table(2, 1 << 20);
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_TRUE(table.Begin(id).claimed);
    table.Answer(id, {});
    table.End(id);
  }
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.Begin("a").claimed);  // Evicted.
  table.Answer("a", {});
  table.End("a", /*forget=*/true);  // Its log record did not commit.
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.Begin("a").claimed);
  table.End("a");
  EXPECT_FALSE(table.Begin("c").claimed);
  std::vector<RememberedPush> remembered = table.Snapshot();
  ASSERT_EQ(remembered.size(), 2u);
  EXPECT_EQ(remembered[0].id, "b");
  EXPECT_EQ(remembered[1].id, "c");
}

TEST(PushIdTableTest, RememberReplacesAndBounds) {
  PushIdTable table(2, 1 << 20);
  table.Remember("a", {});
  table.Remember("b", {});
  table.Remember("a", {VariableInfo{"v", {}, DType::kFloat, 5, true}});
  table.Remember("c", {});
  std::vector<RememberedPush> remembered = table.Snapshot();
  ASSERT_EQ(remembered.size(), 2u);
  EXPECT_EQ(remembered[0].id, "b");
  EXPECT_EQ(remembered[1].id, "c");
}

}  // namespace
}  // namespace paramserver
