// Row operations on the store: gather by id.
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

using ::testing::ElementsAreArray;

class RowsTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *VariableStore::Create({}); }

  // A float variable of `shape` whose element k holds k.
  void Create(const std::string& name, TensorShape shape) {
    VariableRequest request;
    request.name = name;
    request.shape = shape;
    request.initializer.kind = InitializerKind::kConstant;
    const int64_t n = *NumElements(shape);
    for (int64_t k = 0; k < n; ++k) request.initializer.values.push_back(k);
    ASSERT_TRUE(store_->GetVariable(request).ok());
  }

  static std::vector<float> Floats(
      const std::shared_ptr<const TensorBuffer>& bytes) {
    std::vector<float> values(bytes->size() / sizeof(float));
    std::memcpy(values.data(), bytes->data(), bytes->size());
    return values;
  }

  std::unique_ptr<VariableStore> store_;
};

TEST_F(RowsTest, GatherReturnsRowsInTheOrderAskedWithRepeats) {
  Create("table", {6, 3});
  auto gathered = store_->GatherRows("table", {4, 0, 4, 5});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->info.name, "table");
  EXPECT_EQ(gathered->info.version, 1);
  EXPECT_EQ(gathered->info.shape, (TensorShape{6, 3}));
  EXPECT_THAT(Floats(gathered->rows),
              ElementsAreArray({12, 13, 14, 0, 1, 2, 12, 13, 14, 15, 16, 17}));
}

TEST_F(RowsTest, RowsOfHigherRankVariablesAreTheirInnerBlocks) {
  Create("blocks", {4, 2, 3});
  auto gathered = store_->GatherRows("blocks", {3, 1});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_THAT(Floats(gathered->rows),
              ElementsAreArray({18, 19, 20, 21, 22, 23, 6, 7, 8, 9, 10, 11}));
}

TEST_F(RowsTest, AnEmptyIdListIsAValidNoOp) {
  Create("table", {6, 3});
  auto gathered = store_->GatherRows("table", {});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->rows->size(), 0u);
  EXPECT_EQ(gathered->info.version, 1);
}

TEST_F(RowsTest, BadIdsAndVariablesGetPreciseErrors) {
  Create("table", {6, 3});
  Create("scalar", {});
  absl::Status status = store_->GatherRows("table", {1, 5, 6, 9}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "indices[2] = 6 is not in [0, 6): table has 6 rows.");
  status = store_->GatherRows("table", {-1}).status();
  EXPECT_EQ(status.message(),
            "indices[0] = -1 is not in [0, 6): table has 6 rows.");
  status = store_->GatherRows("scalar", {0}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Row operations need a variable of rank 1 or more; scalar is a "
            "scalar.");
  EXPECT_EQ(store_->GatherRows("missing", {0}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GatherRows("bad//name", {0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RowsTest, AGatherOfMoreThanTheCapIsRefused) {
  Create("table", {8, 1024});  // 4 KB rows: 16,384 of them fill the cap.
  const size_t fit = kMaxGatherBytes / 4096;
  auto gathered = store_->GatherRows("table", std::vector<int64_t>(fit, 7));
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->rows->size(), kMaxGatherBytes);
  absl::Status status =
      store_->GatherRows("table", std::vector<int64_t>(fit + 1, 7)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("gather fewer rows per call"));
}

// Pushes assign the whole table to the value of the version they make;
// every gather must see one version only, and the one its info names.
// Replies count against the memory limit until they are released: a client
// that holds many large gathers in flight gets RESOURCE_EXHAUSTED instead of
// growing the server without bound, and the bytes come back with the reply.
TEST_F(RowsTest, RepliesCountAgainstTheMemoryLimitUntilReleased) {
  store_ = *VariableStore::Create(
      {.max_variable_bytes = 4000, .max_total_bytes = 5000});
  Create("table", {100, 10});  // 4,000 bytes; 1,000 left.
  auto first = store_->GatherRows(
      "table", {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                11, 12, 13, 14, 15, 16, 17, 18, 19, 20});  // 800 bytes.
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(store_->reply_bytes(), 800u);
  const std::vector<int64_t> ten(10, 0);  // 400 bytes: does not fit.
  auto second = store_->GatherRows("table", ten);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(second.status().message(),
              testing::HasSubstr("Gathering 10 rows of table needs 400 bytes"));
  const std::vector<int64_t> offsets = {0};
  auto pooled = store_->LookupSparse("table", ten, {offsets, {}});
  ASSERT_TRUE(pooled.ok()) << pooled.status();  // One row: 40 bytes fit.
  VariableRequest more;
  more.name = "more";
  more.shape = TensorShape{50};  // 200 bytes: not while the replies hold.
  EXPECT_EQ(store_->GetVariable(more).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A copy of the reply keeps it counted; the last reference releases it.
  std::shared_ptr<const TensorBuffer> kept = first->rows;
  first->rows.reset();
  EXPECT_EQ(store_->reply_bytes(), 840u);
  kept.reset();
  pooled->rows.reset();
  EXPECT_EQ(store_->reply_bytes(), 0u);
  EXPECT_TRUE(store_->GatherRows("table", ten).ok());
  EXPECT_TRUE(store_->GetVariable(more).ok());
}

TEST_F(RowsTest, EveryGatherSeesOneVersion) {
  Create("table", {64, 16});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int k = 2; !stop.load(); ++k) {
      const std::vector<float> value(64 * 16, static_cast<float>(k));
      PushSpec push;
      push.updates.push_back(
          {"table", UpdateKind::kAssign,
           absl::string_view(reinterpret_cast<const char*>(value.data()),
                             value.size() * sizeof(float)),
           std::nullopt});
      ASSERT_TRUE(store_->Push(push).ok());
    }
  });
  const std::vector<int64_t> ids = {0, 63, 17, 0, 40};
  // Until 500 gathers saw a pushed version, or 30 s. Failures are
  // counted, not asserted, so the writer is always joined.
  int checked = 0, failed = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (checked < 500 && failed == 0 && absl::Now() < deadline) {
    auto gathered = store_->GatherRows("table", ids);
    if (!gathered.ok()) {
      ++failed;
      continue;
    }
    if (gathered->info.version == 1) continue;  // The initial values.
    const std::vector<float> rows = Floats(gathered->rows);
    for (const float x : rows) {
      if (x != static_cast<float>(gathered->info.version)) ++failed;
    }
    if (rows.size() != ids.size() * 16) ++failed;
    ++checked;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(checked, 500);
}

}  // namespace
}  // namespace paramserver
