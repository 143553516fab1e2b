// Row operations against the real server over gRPC: gathers return the rows
// asked for, in order, from one version; bad requests get precise errors and
// the server keeps serving.
#include <atomic>
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

}  // namespace
}  // namespace paramserver
