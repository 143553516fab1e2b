// Sparse pushes on the store: scatter assign and add, optimizer steps on the
// touched rows, all or nothing, and what a failure leaves.
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

class PushRowsTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *VariableStore::Create({}); }

  // A variable of `shape` whose element k holds k.
  void Create(const std::string& name, TensorShape shape,
              DType dtype = DType::kFloat) {
    VariableRequest request;
    request.name = name;
    request.shape = shape;
    request.dtype = dtype;
    request.initializer.kind = InitializerKind::kConstant;
    const int64_t n = *NumElements(shape);
    for (int64_t k = 0; k < n; ++k) request.initializer.values.push_back(k);
    ASSERT_TRUE(store_->GetVariable(request).ok());
  }

  template <typename T = float>
  std::vector<T> Read(const std::string& name) {
    auto snapshot = store_->ReadVariable(name);
    EXPECT_TRUE(snapshot.ok()) << name << ": " << snapshot.status();
    if (!snapshot.ok()) return {};
    std::vector<T> values(snapshot->value->size() / sizeof(T));
    std::memcpy(values.data(), snapshot->value->data(),
                snapshot->value->size());
    return values;
  }

  absl::StatusOr<VariableInfo> PushRows(const std::string& name,
                                        UpdateKind kind,
                                        const std::vector<int64_t>& ids,
                                        const std::string& rows,
                                        OptimizerSpec optimizer = {}) {
    RowUpdateSpec push;
    push.name = name;
    push.kind = kind;
    push.ids = ids;
    push.rows = rows;
    push.optimizer = optimizer;
    return store_->PushRows(push);
  }

  std::unique_ptr<VariableStore> store_;
};

TEST_F(PushRowsTest, ScatterAssignWritesTheRowsAndNothingElse) {
  Create("table", {5, 2});
  // Id 3 twice: the last row wins, as tf.scatter_update applies in order.
  auto info = PushRows("table", UpdateKind::kAssign, {3, 0, 3},
                       Bytes<float>({-1, -2, -3, -4, -5, -6}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 2);
  EXPECT_THAT(Read("table"),
              ElementsAreArray({-3, -4, 2, 3, 4, 5, -5, -6, 8, 9}));
}

TEST_F(PushRowsTest, ScatterAddSumsRepeatsInAnyIntegerOrFloatDtype) {
  Create("counts", {4}, DType::kInt64);
  ASSERT_TRUE(PushRows("counts", UpdateKind::kAssignAdd, {2, 2, 0, 2},
                       Bytes<int64_t>({10, 20, 5, 1}))
                  .ok());
  EXPECT_THAT(Read<int64_t>("counts"), ElementsAreArray({5, 1, 33, 3}));
  Create("blocks", {3, 2, 2});
  ASSERT_TRUE(PushRows("blocks", UpdateKind::kAssignAdd, {1},
                       Bytes<float>({1, 1, 1, 1}))
                  .ok());
  EXPECT_THAT(Read("blocks"),
              ElementsAreArray({0, 1, 2, 3, 5, 6, 7, 8, 8, 9, 10, 11}));
}

TEST_F(PushRowsTest, SgdSubtractsEveryOccurrenceAsScatterSub) {
  Create("emb", {3, 2});
  OptimizerSpec sgd;
  sgd.learning_rate = 0.5;
  ASSERT_TRUE(PushRows("emb", UpdateKind::kApplyGradient, {1, 1},
                       Bytes<float>({2, 4, 2, 4}), sgd)
                  .ok());
  EXPECT_THAT(Read("emb"), ElementsAreArray({0, 1, 0, -1, 4, 5}));
  // SGD keeps no slots.
  EXPECT_FALSE(store_->ReadVariable("emb/Momentum").ok());
}

TEST_F(PushRowsTest, AdagradStepsTouchedRowsAndTheirSlotRowsOnly) {
  Create("emb", {6, 2});
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  adagrad.learning_rate = 0.1;
  // Two steps; id 4 repeated in the first (rows summed first), touched again
  // in the second.
  const std::vector<std::vector<int64_t>> ids = {{4, 1, 4}, {4, 5}};
  const std::vector<std::vector<float>> grads = {{1, 2, 3, 4, 0.5, 0.5},
                                                 {-1, 1, 2, 2}};
  // TensorFlow's SparseApplyAdagrad per summed row:
  // accum += g * g; var -= lr * g / sqrt(accum).
  std::vector<double> var(12), accum(12, 0.1);
  for (int k = 0; k < 12; ++k) var[k] = k;
  for (size_t step = 0; step < ids.size(); ++step) {
    std::vector<std::pair<int64_t, std::vector<double>>> summed;
    for (size_t i = 0; i < ids[step].size(); ++i) {
      auto it = std::find_if(summed.begin(), summed.end(),
                             [&](auto& e) { return e.first == ids[step][i]; });
      if (it == summed.end()) {
        summed.push_back({ids[step][i], {0, 0}});
        it = summed.end() - 1;
      }
      for (int j = 0; j < 2; ++j) it->second[j] += grads[step][2 * i + j];
    }
    for (const auto& [id, g] : summed) {
      for (int j = 0; j < 2; ++j) {
        accum[2 * id + j] += g[j] * g[j];
        var[2 * id + j] -= 0.1 * g[j] / std::sqrt(accum[2 * id + j]);
      }
    }
    auto info = PushRows("emb", UpdateKind::kApplyGradient, ids[step],
                         Bytes(grads[step]), adagrad);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->version, static_cast<int64_t>(step) + 2);
  }
  const std::vector<float> got = Read("emb");
  const std::vector<float> got_accum = Read("emb/Adagrad");
  for (int k = 0; k < 12; ++k) {
    EXPECT_NEAR(got[k], var[k], 1e-5) << k;
    EXPECT_NEAR(got_accum[k], accum[k], 1e-5) << k;
  }
  // Untouched rows 0, 2, 3 and their accumulator rows: byte-identical.
  for (int row : {0, 2, 3}) {
    for (int j = 0; j < 2; ++j) {
      EXPECT_EQ(got[2 * row + j], static_cast<float>(2 * row + j));
      EXPECT_EQ(got_accum[2 * row + j], 0.1f);
    }
  }
}

TEST_F(PushRowsTest, AdamMovesUntouchedRowsAndLazyAdamDoesNot) {
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kLazyAdam}) {
    const std::string name =
        kind == OptimizerKind::kAdam ? "adam_emb" : "lazy_emb";
    Create(name, {3, 1});
    OptimizerSpec adam;
    adam.kind = kind;
    adam.learning_rate = 0.1;
    ASSERT_TRUE(
        PushRows(name, UpdateKind::kApplyGradient, {1}, Bytes<float>({1}), adam)
            .ok());
    const float row1 = Read(name)[1];
    EXPECT_NE(row1, 1.0f);
    // Row 1 is not in the second step; its first moment is not zero.
    ASSERT_TRUE(
        PushRows(name, UpdateKind::kApplyGradient, {2}, Bytes<float>({1}), adam)
            .ok());
    if (kind == OptimizerKind::kAdam) {
      EXPECT_NE(Read(name)[1], row1) << "TF 1.x's Adam decays every row";
    } else {
      EXPECT_EQ(Read(name)[1], row1) << "LazyAdam touches only its rows";
    }
    EXPECT_EQ(Read(name)[0], 0.0f);  // Zero moments never move a row.
  }
}

TEST_F(PushRowsTest, BadPushesGetPreciseErrorsAndChangeNothing) {
  Create("emb", {4, 2});
  Create("ids", {4}, DType::kInt32);
  Create("scalar", {});
  const std::string two_rows = Bytes<float>({1, 2, 3, 4});
  auto expect_error = [&](absl::StatusOr<VariableInfo> got,
                          absl::StatusCode code, const std::string& text) {
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr(text));
  };
  expect_error(PushRows("emb", UpdateKind::kAssign, {0, 4}, two_rows),
               absl::StatusCode::kInvalidArgument,
               "indices[1] = 4 is not in [0, 4)");
  expect_error(PushRows("emb", UpdateKind::kAssign, {0, -1}, two_rows),
               absl::StatusCode::kInvalidArgument,
               "indices[1] = -1 is not in [0, 4)");
  expect_error(PushRows("emb", UpdateKind::kAssign, {0}, two_rows),
               absl::StatusCode::kInvalidArgument,
               "Rows for emb have 16 bytes; 1 ids of rows of 8 bytes");
  expect_error(PushRows("missing", UpdateKind::kAssign, {0}, two_rows),
               absl::StatusCode::kNotFound, "missing");
  expect_error(PushRows("scalar", UpdateKind::kAssign, {0}, Bytes<float>({1})),
               absl::StatusCode::kInvalidArgument, "scalar");
  expect_error(
      PushRows("ids", UpdateKind::kApplyGradient, {0}, Bytes<int32_t>({1})),
      absl::StatusCode::kInvalidArgument, "floating dtype");
  OptimizerSpec bad;
  bad.kind = OptimizerKind::kAdagrad;
  bad.learning_rate = -1;
  expect_error(
      PushRows("emb", UpdateKind::kApplyGradient, {0, 1}, two_rows, bad),
      absl::StatusCode::kInvalidArgument, "learning_rate");
  EXPECT_THAT(Read("emb"), ElementsAreArray({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(store_->ReadVariable("emb")->info.version, 1);
  EXPECT_FALSE(store_->ReadVariable("emb/Adagrad").ok())
      << "a refused push leaves no slot behind";
}

TEST_F(PushRowsTest, StaleGradientsAreAbortedAsForDensePushes) {
  Create("emb", {2, 1});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        PushRows("emb", UpdateKind::kAssign, {0}, Bytes<float>({1})).ok());
  }
  RowUpdateSpec push;
  push.name = "emb";
  push.kind = UpdateKind::kApplyGradient;
  const std::vector<int64_t> ids = {1};
  const std::string rows = Bytes<float>({1});
  push.ids = ids;
  push.rows = rows;
  push.base_version = 1;
  push.max_staleness = 2;
  auto stale = store_->PushRows(push);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(), HasSubstr("3 versions behind"));
  push.base_version = 2;
  EXPECT_TRUE(store_->PushRows(push).ok());
}

TEST_F(PushRowsTest, AnEmptyPushChangesNothing) {
  Create("emb", {2, 1});
  auto info = PushRows("emb", UpdateKind::kAssign, {}, "");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 1);
}

TEST_F(PushRowsTest, ConcurrentScatterAddsLoseNoIncrement) {
  Create("counts", {8}, DType::kInt64);
  constexpr int kThreads = 4;
  constexpr int kPushes = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<int64_t> ids = {t % 8, 7, 7};
      const std::string ones = Bytes<int64_t>({1, 1, 1});
      for (int i = 0; i < kPushes; ++i) {
        RowUpdateSpec push;
        push.name = "counts";
        push.kind = UpdateKind::kAssignAdd;
        push.ids = ids;
        push.rows = ones;
        ASSERT_TRUE(store_->PushRows(push).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::vector<int64_t> counts = Read<int64_t>("counts");
  EXPECT_EQ(counts[7], 7 + 2 * kThreads * kPushes);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(counts[t], t + kPushes);
  EXPECT_EQ(store_->ReadVariable("counts")->info.version,
            1 + kThreads * kPushes);
}

// A pooled lookup reads, and a bag gradient is spread to, one row per id:
// a small request naming one wide row millions of times is refused before
// the server reads or allocates anything, and changes nothing.
TEST_F(PushRowsTest, PooledCallsTouchAtMostOneGathersBytes) {
  Create("wide", {10, 1024});  // Rows of 4 KiB: 16,385 ids pass 64 MiB.
  const std::vector<int64_t> ids(16385, 3);
  const std::vector<int64_t> one_bag = {0};
  const BagSpec bags{one_bag, {}, Combiner::kSum};
  absl::Status status = store_->LookupSparse("wide", ids, bags).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("Pooling 16385 ids of wide (4096 bytes each) would "
                        "touch more than 67108864 bytes"));
  const std::string one_row = Bytes(std::vector<float>(1024, 1));
  RowUpdateSpec push;
  push.name = "wide";
  push.kind = UpdateKind::kApplyGradient;
  push.ids = ids;
  push.rows = one_row;
  push.bags = bags;
  push.optimizer.kind = OptimizerKind::kAdagrad;
  status = store_->PushRows(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("Pooling 16385 ids"));
  EXPECT_FALSE(store_->ReadVariable("wide/Adagrad").ok());
  // One id fewer is a valid call.
  const std::vector<int64_t> fewer(16384, 3);
  push.ids = fewer;
  auto pushed = store_->PushRows(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->version, 2);
  EXPECT_TRUE(store_->LookupSparse("wide", fewer, bags).ok());
}

}  // namespace
}  // namespace paramserver
