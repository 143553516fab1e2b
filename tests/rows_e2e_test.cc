// Row operations against the real server over gRPC: gathers return the rows
// asked for, in order, from one version; sparse pushes apply to the touched
// rows only, all or nothing, and survive kill -9; bad requests get precise
// errors and the server keeps serving.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kRows = 10000;
constexpr int64_t kDim = 16;

class RowsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = Connect();
    // Row r of "emb/table" holds r * 1000 + j in column j: every gathered
    // row says where it came from.
    VariableRequest request;
    request.scope = "emb";
    request.name = "table";
    request.shape = TensorShape{kRows, kDim};
    request.initializer.kind = InitializerKind::kConstant;
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t j = 0; j < kDim; ++j) {
        request.initializer.values.push_back(r * 1000 + j);
      }
    }
    ASSERT_TRUE(client_->GetVariable(request).ok());
  }

  std::unique_ptr<ParameterServerClient> Connect() {
    auto client = ParameterServerClient::Connect(server_->target());
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  template <typename T>
  static std::string Bytes(const std::vector<T>& values) {
    return std::string(reinterpret_cast<const char*>(values.data()),
                       values.size() * sizeof(T));
  }

  static std::vector<float> Floats(const std::string& bytes) {
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ParameterServerClient> client_;
};

TEST_F(RowsE2ETest, GatherReturnsTheRowsAskedForInOrder) {
  // 4,096 ids, skewed towards small ids as embedding lookups are, with
  // many repeats.
  std::mt19937 random(1);
  std::vector<int64_t> ids(4096);
  for (int64_t& id : ids) {
    id = static_cast<int64_t>(
             std::pow(std::uniform_real_distribution<double>(0, 1)(random), 4) *
             kRows) %
         kRows;
  }
  auto gathered = client_->GatherRows("emb/table", ids);
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->info.name, "emb/table");
  EXPECT_EQ(gathered->info.shape, (TensorShape{kRows, kDim}));
  EXPECT_EQ(gathered->info.version, 1);
  const std::vector<float> rows = Floats(gathered->rows);
  ASSERT_EQ(rows.size(), ids.size() * kDim);
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int64_t j = 0; j < kDim; ++j) {
      ASSERT_EQ(rows[i * kDim + j], static_cast<float>(ids[i] * 1000 + j))
          << "id " << i;
    }
  }
  // The whole table 8 times over in one call: 5.1 MB, beyond gRPC's
  // default 4 MB message limit.
  std::vector<int64_t> all(8 * kRows);
  for (size_t i = 0; i < all.size(); ++i) all[i] = kRows - 1 - i % kRows;
  gathered = client_->GatherRows("emb/table", all);
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  ASSERT_EQ(gathered->rows.size(), all.size() * kDim * sizeof(float));
  EXPECT_EQ(Floats(gathered->rows)[kDim * (all.size() - 1)], 0.0f);
}

TEST_F(RowsE2ETest, BadGathersGetPreciseErrorsAndTheServerKeepsServing) {
  VariableRequest scalar;
  scalar.name = "step";
  scalar.shape = TensorShape{};
  ASSERT_TRUE(client_->GetVariable(scalar).ok());
  struct Case {
    std::string name;
    std::vector<int64_t> ids;
    absl::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"emb/table",
       {5, kRows, 7},
       absl::StatusCode::kInvalidArgument,
       "indices[1] = 10000 is not in [0, 10000): emb/table has 10000 rows."},
      {"emb/table",
       {-3},
       absl::StatusCode::kInvalidArgument,
       "indices[0] = -3 is not in [0, 10000)"},
      {"step", {0}, absl::StatusCode::kInvalidArgument, "step is a scalar"},
      {"emb/missing", {0}, absl::StatusCode::kNotFound, "emb/missing"},
      {"emb//table", {0}, absl::StatusCode::kInvalidArgument, "emb//table"},
      {"emb/table", std::vector<int64_t>((1 << 22) + 1, 0),
       absl::StatusCode::kInvalidArgument,
       "A gather may ask for at most 4194304 ids; this one asks for "
       "4194305."},
  };
  for (const Case& c : cases) {
    absl::Status status = client_->GatherRows(c.name, c.ids).status();
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
  auto empty = client_->GatherRows("emb/table", {});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->rows.empty());
  auto one = client_->GatherRows("emb/table", {kRows - 1});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(Floats(one->rows)[0], (kRows - 1) * 1000.0f);
}

// Workers gather while another assigns the whole table to its new version
// number: no gather mixes two versions.
TEST_F(RowsE2ETest, ConcurrentGathersEachSeeOneVersion) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto client = Connect();
    for (int k = 2; !stop.load(); ++k) {
      const std::vector<float> value(kRows * kDim, static_cast<float>(k));
      PushSpec push;
      push.updates.push_back(
          {"emb/table", UpdateKind::kAssign,
           absl::string_view(reinterpret_cast<const char*>(value.data()),
                             value.size() * sizeof(float)),
           std::nullopt});
      ASSERT_TRUE(client->Push(push).ok());
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> checked{0};
  for (int w = 0; w < 2; ++w) {
    readers.emplace_back([&, w] {
      auto client = Connect();
      const std::vector<int64_t> ids = {w, kRows - 1, 5000, w, 17};
      // Until 100 gathers saw a pushed version, or 60 s.
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      for (int seen = 0; seen < 100 && absl::Now() < deadline;) {
        auto gathered = client->GatherRows("emb/table", ids);
        ASSERT_TRUE(gathered.ok()) << gathered.status();
        if (gathered->info.version == 1) continue;
        for (const float x : Floats(gathered->rows)) {
          ASSERT_EQ(x, static_cast<float>(gathered->info.version));
        }
        ++checked;
        ++seen;
      }
    });
  }
  for (std::thread& reader : readers) reader.join();
  stop = true;
  writer.join();
  EXPECT_EQ(checked.load(), 200);
}

// Adagrad on a few rows, with a repeated id, over gRPC: the touched rows and
// their accumulator rows follow TF's SparseApplyAdagrad; every other row
// keeps its bytes.
TEST_F(RowsE2ETest, SparseAdagradPushChangesTheTouchedRowsOnly) {
  const std::vector<int64_t> ids = {7, 3, 7};
  std::vector<float> gradients;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int64_t j = 0; j < kDim; ++j) gradients.push_back(0.5f * (i + 1) + j);
  }
  const std::string rows = Bytes(gradients);
  RowUpdateSpec push;
  push.name = "emb/table";
  push.kind = UpdateKind::kApplyGradient;
  push.ids = ids;
  push.rows = rows;
  push.optimizer.kind = OptimizerKind::kAdagrad;
  push.optimizer.learning_rate = 0.1;
  auto pushed = client_->PushRows(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->version, 2);
  EXPECT_EQ(pushed->shape, (TensorShape{kRows, kDim}));

  auto table = client_->GatherRows("emb/table", {3, 7, 4, 8});
  auto slot = client_->GatherRows("emb/table/Adagrad", {3, 7, 4});
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_TRUE(slot.ok()) << slot.status();
  const std::vector<float> t = Floats(table->rows), a = Floats(slot->rows);
  for (int64_t j = 0; j < kDim; ++j) {
    // Row 3: one gradient. Row 7: the first and third, summed first.
    const double g3 = 1.0 + j, g7 = (0.5 + j) + (1.5 + j);
    const double a3 = 0.1 + g3 * g3, a7 = 0.1 + g7 * g7;
    EXPECT_NEAR(a[j], a3, 1e-4 * a3);
    EXPECT_NEAR(a[kDim + j], a7, 1e-4 * a7);
    EXPECT_NEAR(t[j], 3000 + j - 0.1 * g3 / std::sqrt(a3), 1e-3);
    EXPECT_NEAR(t[kDim + j], 7000 + j - 0.1 * g7 / std::sqrt(a7), 1e-3);
    EXPECT_EQ(t[2 * kDim + j], 4000 + j);  // Untouched rows keep their bytes.
    EXPECT_EQ(t[3 * kDim + j], 8000 + j);
    EXPECT_EQ(a[2 * kDim + j], 0.1f);
  }
}

TEST_F(RowsE2ETest, BadRowPushesGetPreciseErrorsAndChangeNothing) {
  VariableRequest counts;
  counts.name = "counts";
  counts.shape = TensorShape{4};
  counts.dtype = DType::kInt64;
  ASSERT_TRUE(client_->GetVariable(counts).ok());
  const std::vector<float> one_row(kDim, 1.0f);
  const std::string row = Bytes(one_row);
  const std::string two_rows = row + row;
  const std::string int_row = Bytes(std::vector<int64_t>{1});
  struct Case {
    std::string what;
    std::string name;
    UpdateKind kind;
    std::vector<int64_t> ids;
    std::string rows;
    absl::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"id past the end",
       "emb/table",
       UpdateKind::kAssignAdd,
       {2, kRows},
       two_rows,
       absl::StatusCode::kInvalidArgument,
       "indices[1] = 10000 is not in [0, 10000)"},
      {"negative id",
       "emb/table",
       UpdateKind::kApplyGradient,
       {-1},
       row,
       absl::StatusCode::kInvalidArgument,
       "indices[0] = -1"},
      {"rows short of the ids",
       "emb/table",
       UpdateKind::kAssign,
       {1, 2},
       row,
       absl::StatusCode::kInvalidArgument,
       "Rows for emb/table have 64 bytes; 2 ids of rows of 64 bytes (shape "
       "(10000, 16), dtype float32) need 128."},
      {"missing variable",
       "emb/nope",
       UpdateKind::kAssign,
       {0},
       row,
       absl::StatusCode::kNotFound,
       "emb/nope"},
      {"gradient on an int64 variable",
       "counts",
       UpdateKind::kApplyGradient,
       {0},
       int_row,
       absl::StatusCode::kInvalidArgument,
       "counts"},
      {"unknown kind",
       "emb/table",
       static_cast<UpdateKind>(7),
       {0},
       row,
       absl::StatusCode::kInvalidArgument,
       "Unknown value 7 for field 'kind'"},
      {"too many ids", "emb/table", UpdateKind::kAssignAdd,
       std::vector<int64_t>((1 << 22) + 1, 0), "",
       absl::StatusCode::kInvalidArgument,
       "A row push may carry at most 4194304 ids; this one carries 4194305."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RowUpdateSpec push;
    push.name = c.name;
    push.kind = c.kind;
    push.ids = c.ids;
    push.rows = c.rows;
    push.optimizer.kind = OptimizerKind::kAdagrad;  // No slot may be left.
    absl::Status status = client_->PushRows(push).status();
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
  // A stale gradient: ABORTED once the table moved on past max_staleness.
  RowUpdateSpec stale;
  stale.name = "emb/table";
  stale.kind = UpdateKind::kApplyGradient;
  const std::vector<int64_t> id = {0};
  stale.ids = id;
  stale.rows = row;
  stale.base_version = 1;
  stale.max_staleness = 1;
  ASSERT_TRUE(client_->PushRows(stale).ok());  // Version 1 -> 2.
  ASSERT_TRUE(client_->PushRows(stale).ok());  // Based on 1, 1 behind.
  const absl::Status aborted = client_->PushRows(stale).status();
  EXPECT_TRUE(absl::IsAborted(aborted)) << aborted;
  auto table = client_->GatherRows("emb/table", {0, 1, 2});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->info.version, 3);
  const std::vector<float> t = Floats(table->rows);
  EXPECT_EQ(t[kDim], 1000);  // Rows 1 and 2 never changed.
  EXPECT_EQ(t[2 * kDim], 2000);
  EXPECT_FALSE(client_->GatherRows("emb/table/Adagrad", {0}).ok());
}

// embedding_lookup_sparse pooled on the server: 512 bags of 16 ids come back
// as 512 rows, equal to pooling the gathered rows on the worker; the bags'
// gradient lands on their ids as the spread rows pushed one by one would.
TEST_F(RowsE2ETest, PooledLookupAndItsGradientOverGrpc) {
  constexpr int kBags = 512, kBagSize = 16;
  std::mt19937 random(4);
  std::vector<int64_t> ids, offsets;
  std::vector<float> weights;
  for (int b = 0; b < kBags; ++b) {
    offsets.push_back(ids.size());
    for (int k = 0; k < kBagSize; ++k) {
      ids.push_back(
          std::uniform_int_distribution<int64_t>(0, kRows - 1)(random));
      weights.push_back(
          std::uniform_real_distribution<float>(0.5, 1.5)(random));
    }
  }
  const BagSpec bags{offsets, weights, Combiner::kSqrtn};
  auto pooled = client_->LookupSparse("emb/table", ids, bags);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  auto gathered = client_->GatherRows("emb/table", ids);
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  ASSERT_EQ(pooled->rows.size(), kBags * kDim * sizeof(float));
  EXPECT_EQ(gathered->rows.size(), kBagSize * pooled->rows.size());
  const std::vector<float> rows = Floats(gathered->rows);
  const std::vector<float> got = Floats(pooled->rows);
  std::vector<float> divisors(kBags);
  for (int b = 0; b < kBags; ++b) {
    double squares = 0;
    for (int k = b * kBagSize; k < (b + 1) * kBagSize; ++k) {
      squares += double(weights[k]) * weights[k];
    }
    divisors[b] = std::sqrt(squares);
    for (int j = 0; j < kDim; ++j) {
      double sum = 0;
      for (int k = b * kBagSize; k < (b + 1) * kBagSize; ++k) {
        sum += double(weights[k]) * rows[k * kDim + j];
      }
      ASSERT_NEAR(got[b * kDim + j], sum / divisors[b],
                  1e-5 * std::abs(sum / divisors[b]))
          << "bag " << b << " column " << j;
    }
  }

  // The gradient: one row per bag, pushed with the bags (Adagrad), against
  // the same rows spread to the ids by hand and pushed to a copy.
  VariableRequest copy;
  copy.name = "copy";
  copy.shape = TensorShape{kRows, kDim};
  copy.initializer.kind = InitializerKind::kZeros;
  ASSERT_TRUE(client_->GetVariable(copy).ok());
  VariableRequest twin = copy;
  twin.name = "twin";
  ASSERT_TRUE(client_->GetVariable(twin).ok());
  std::vector<float> bag_gradient(kBags * kDim);
  for (float& g : bag_gradient) {
    g = std::uniform_real_distribution<float>(-1, 1)(random);
  }
  std::vector<float> spread(ids.size() * kDim);
  for (size_t k = 0; k < ids.size(); ++k) {
    const int b = static_cast<int>(k / kBagSize);
    for (int j = 0; j < kDim; ++j) {
      spread[k * kDim + j] =
          bag_gradient[b * kDim + j] * weights[k] / divisors[b];
    }
  }
  RowUpdateSpec push;
  push.kind = UpdateKind::kApplyGradient;
  push.optimizer.kind = OptimizerKind::kAdagrad;
  push.ids = ids;
  const std::string bag_rows = Bytes(bag_gradient);
  const std::string spread_rows = Bytes(spread);
  push.name = "copy";
  push.rows = bag_rows;
  push.bags = bags;
  ASSERT_TRUE(client_->PushRows(push).ok());
  push.name = "twin";
  push.rows = spread_rows;
  push.bags.reset();
  ASSERT_TRUE(client_->PushRows(push).ok());
  auto pushed = client_->GatherRows("copy", ids);
  auto by_hand = client_->GatherRows("twin", ids);
  ASSERT_TRUE(pushed.ok() && by_hand.ok());
  const std::vector<float> a = Floats(pushed->rows), b = Floats(by_hand->rows);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], 1e-5) << i;
  }
  EXPECT_NE(a[0], 0);

  // Bad bags, tables and kinds: precise errors, nothing applied.
  const std::vector<int64_t> backwards = {0, 3, 2};
  const std::vector<int64_t> three = {1, 2, 3};
  absl::Status status =
      client_->LookupSparse("emb/table", three, {backwards, {}, Combiner::kSum})
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("bag_offsets[2] = 2 is not in [3, 3]"));
  VariableRequest counts;
  counts.name = "counts";
  counts.shape = TensorShape{4, 2};
  counts.dtype = DType::kInt64;
  ASSERT_TRUE(client_->GetVariable(counts).ok());
  const std::vector<int64_t> one_bag = {0};
  status = client_->LookupSparse("counts", three, {one_bag, {}, Combiner::kSum})
               .status();
  EXPECT_EQ(status.message(),
            "Pooled lookups take float32 tables; counts is int64.");
  push.name = "copy";
  push.kind = UpdateKind::kAssignAdd;
  push.ids = three;
  const std::string one_row = Bytes(std::vector<float>(kDim, 1));
  const std::string two_rows = Bytes(std::vector<float>(2 * kDim, 1));
  push.rows = one_row;
  push.bags = BagSpec{one_bag, {}, Combiner::kMean};
  status = client_->PushRows(push).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("APPLY_GRADIENT"));
  push.kind = UpdateKind::kApplyGradient;
  push.rows = two_rows;
  status = client_->PushRows(push).status();
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("1 bags of rows of 64 bytes need 64."));
  auto after = client_->GatherRows("copy", {0});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->info.version, 2);
}

// Two workers scatter-add into the same rows at once: every add counts.
TEST_F(RowsE2ETest, ConcurrentScatterAddsAllCount) {
  VariableRequest counts;
  counts.name = "hits";
  counts.shape = TensorShape{100, 2};
  counts.dtype = DType::kInt64;
  ASSERT_TRUE(client_->GetVariable(counts).ok());
  constexpr int kPushes = 300;
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      auto client = Connect();
      const std::vector<int64_t> ids = {5, 50, 5};
      const std::string rows = Bytes(std::vector<int64_t>{1, 2, 1, 2, 1, 2});
      RowUpdateSpec push;
      push.name = "hits";
      push.kind = UpdateKind::kAssignAdd;
      push.ids = ids;
      push.rows = rows;
      for (int i = 0; i < kPushes; ++i)
        ASSERT_TRUE(client->PushRows(push).ok());
    });
  }
  for (std::thread& worker : workers) worker.join();
  auto hits = client_->GatherRows("hits", {5, 50, 6});
  ASSERT_TRUE(hits.ok()) << hits.status();
  std::vector<int64_t> got(6);
  std::memcpy(got.data(), hits->rows.data(), 6 * sizeof(int64_t));
  EXPECT_EQ(got, (std::vector<int64_t>{4 * kPushes, 8 * kPushes, 2 * kPushes,
                                       4 * kPushes, 0, 0}));
  EXPECT_EQ(hits->info.version, 1 + 2 * kPushes);
}

// Acknowledged sparse pushes outlive kill -9 (the restarted server replays
// them from the write-ahead log), and so does the push id of the last one:
// its retry against the restarted server applies nothing again.
TEST(RowsDurabilityE2ETest, AcknowledgedRowPushSurvivesKill9) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/rows_kill9";
  const std::vector<std::string> flags = {"--data_dir=" + dir};
  const std::vector<int64_t> ids = {9, 2, 9};
  std::string before;
  {
    std::vector<std::string> first_start = flags;
    first_start.push_back("--initialize_data_dir");
    auto server = ServerProcess::Start(first_start);
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = ParameterServerClient::Connect((*server)->target());
    ASSERT_TRUE(client.ok()) << client.status();
    VariableRequest request;
    request.name = "emb";
    request.shape = TensorShape{1000, 4};
    request.initializer.kind = InitializerKind::kRandomUniform;
    request.initializer.seed = 3;
    ASSERT_TRUE((*client)->GetVariable(request).ok());
    const std::vector<float> gradient(12, 0.25f);
    RowUpdateSpec push;
    push.name = "emb";
    push.kind = UpdateKind::kApplyGradient;
    push.ids = ids;
    // push.rows is a view of these bytes.
    const std::string rows(reinterpret_cast<const char*>(gradient.data()),
                           gradient.size() * sizeof(float));
    push.rows = rows;
    push.optimizer.kind = OptimizerKind::kFtrl;
    for (int step = 0; step < 3; ++step) {
      // The last step's reply is "lost": it is retried after the restart.
      if (step == 2) push.push_id = "ftrl-step-3";
      ASSERT_TRUE((*client)->PushRows(push).ok());
    }
    auto gathered = (*client)->GatherRows("emb", {2, 9, 5});
    ASSERT_TRUE(gathered.ok()) << gathered.status();
    before = gathered->rows;
    EXPECT_EQ(gathered->info.version, 4);
    (*server)->StopWith(SIGKILL);
  }
  auto restarted = ServerProcess::Start(flags);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto client = ParameterServerClient::Connect((*restarted)->target());
  ASSERT_TRUE(client.ok()) << client.status();
  // The retry of the step the killed server acknowledged, with its push id:
  // answered from the log, applied nothing again.
  const std::vector<float> gradient(12, 0.25f);
  const std::string rows(reinterpret_cast<const char*>(gradient.data()),
                         gradient.size() * sizeof(float));
  RowUpdateSpec retry;
  retry.name = "emb";
  retry.kind = UpdateKind::kApplyGradient;
  retry.ids = ids;
  retry.rows = rows;
  retry.optimizer.kind = OptimizerKind::kFtrl;
  retry.push_id = "ftrl-step-3";
  auto retried = (*client)->PushRows(retry);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->version, 4);
  auto gathered = (*client)->GatherRows("emb", {2, 9, 5});
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  EXPECT_EQ(gathered->info.version, 4);
  EXPECT_EQ(gathered->rows, before);
  EXPECT_TRUE((*client)->GatherRows("emb/Ftrl_1", {9}).ok());
}

}  // namespace
}  // namespace paramserver
