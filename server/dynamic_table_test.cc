#include "server/dynamic_table.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kWidth = 4;

// A clock the test moves by hand.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> micros =
      std::make_shared<std::atomic<int64_t>>(1'000'000);
  std::function<int64_t()> Function() const {
    return [m = micros] { return m->load(); };
  }
  void Advance(int64_t delta) { micros->fetch_add(delta); }
};

DynamicTableOptions Options() {
  DynamicTableOptions options;
  options.name = "user_emb";
  options.width = kWidth;
  options.initializer.kind = InitializerKind::kRandomNormal;
  options.initializer.seed = 1234;
  options.stripes = 1;
  return options;
}

std::unique_ptr<DynamicTable> Make(DynamicTableOptions options) {
  auto table = DynamicTable::Create(std::move(options));
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? std::move(*table) : nullptr;
}

std::vector<float> Lookup(DynamicTable& table, std::vector<int64_t> ids) {
  std::vector<float> out(ids.size() * table.width());
  const absl::Status status = table.Lookup(ids, absl::MakeSpan(out));
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

std::vector<float> Row(const std::vector<float>& rows, int64_t i) {
  return std::vector<float>(rows.begin() + i * kWidth,
                            rows.begin() + (i + 1) * kWidth);
}

// Bit-exact comparison: +0 and -0 and NaNs are told apart.
bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(DynamicTableTest, NewIdsGetTheSameRowFromEveryTableWithTheSeed) {
  auto a = Make(Options());
  DynamicTableOptions other = Options();
  other.stripes = 64;  // Another layout: rows depend on (seed, id) alone.
  auto b = Make(other);
  const std::vector<int64_t> ids = {5, -3, int64_t{1} << 62, 5};
  const std::vector<float> from_a = Lookup(*a, ids);
  const std::vector<float> from_b = Lookup(*b, ids);
  EXPECT_TRUE(SameBits(from_a, from_b));
  EXPECT_TRUE(SameBits(Row(from_a, 0), Row(from_a, 3)));   // Same id.
  EXPECT_FALSE(SameBits(Row(from_a, 0), Row(from_a, 1)));  // Other ids.
  // Stored now: looked up again, the rows come back unchanged.
  EXPECT_TRUE(SameBits(Lookup(*a, ids), from_a));
  const DynamicTable::Stats stats = a->GetStats();
  EXPECT_EQ(stats.stored_rows, 3);
  EXPECT_EQ(stats.admitted, 3);
  EXPECT_EQ(stats.lookup_ids, 8);
  EXPECT_EQ(stats.lookup_hits, 4);

  DynamicTableOptions reseeded = Options();
  reseeded.initializer.seed = 99;
  EXPECT_FALSE(SameBits(Lookup(*Make(reseeded), ids), from_a));
}

TEST(DynamicTableTest, RowsComeFromTheInitializer) {
  DynamicTableOptions options = Options();
  options.initializer = InitializerSpec();
  options.initializer.kind = InitializerKind::kConstant;
  options.initializer.values = {Number(0.5)};
  options.initializer.seed = 1;
  auto table = Make(options);
  EXPECT_EQ(Lookup(*table, {77}), std::vector<float>(kWidth, 0.5f));
}

TEST(DynamicTableTest, AnIdIsStoredOnlyOnceSeenAdmitAfterTimes) {
  DynamicTableOptions options = Options();
  options.admit_after = 3;
  auto table = Make(options);
  const std::vector<float> first = Lookup(*table, {10});
  EXPECT_EQ(table->GetStats().stored_rows, 0);
  // Not stored: an assigned row would be lost, a gradient dropped.
  const std::vector<float> gradient(kWidth, 1.0f);
  OptimizerSpec sgd;
  ASSERT_TRUE(table->ApplyGradient(sgd, {10}, gradient).ok());
  EXPECT_EQ(table->GetStats().dropped_gradient_rows, 1);
  EXPECT_TRUE(SameBits(Lookup(*table, {10}), first));
  EXPECT_EQ(table->GetStats().stored_rows, 0);
  EXPECT_TRUE(SameBits(Lookup(*table, {10}), first));  // Third sighting.
  EXPECT_EQ(table->GetStats().stored_rows, 1);
  ASSERT_TRUE(table->ApplyGradient(sgd, {10}, gradient).ok());
  EXPECT_FALSE(SameBits(Lookup(*table, {10}), first));

  // Sightings within one call count: three at once admit.
  Lookup(*table, {20, 20, 20, 30});
  EXPECT_EQ(table->GetStats().stored_rows, 2);
}

TEST(DynamicTableTest, FullTableWithoutEvictionRefusesAndChangesNothing) {
  DynamicTableOptions options = Options();
  options.capacity = 2;
  options.evict_when_full = false;
  auto table = Make(options);
  const std::vector<float> ones(2 * kWidth, 1.0f);
  ASSERT_TRUE(table->Assign({1, 2}, ones).ok());
  std::vector<float> out(2 * kWidth);
  const absl::Status status = table->Lookup({1, 3}, absl::MakeSpan(out));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("'user_emb'"));
  EXPECT_THAT(status.message(), HasSubstr("at most 2 rows"));
  const std::vector<float> twos(2 * kWidth, 2.0f);
  EXPECT_EQ(table->Add({2, 4}, twos).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Lookup(*table, {1, 2}), ones);  // Row 2 not added to.
  EXPECT_EQ(table->GetStats().stored_rows, 2);
  EXPECT_EQ(table->GetStats().admitted, 2);
}

TEST(DynamicTableTest, FullTableEvictsTheLeastRecentlyUsedRow) {
  DynamicTableOptions options = Options();
  options.capacity = 3;
  FakeClock clock;
  options.now_micros = clock.Function();
  auto table = Make(options);
  const std::vector<float> ones(kWidth, 1.0f);
  for (int64_t id : {1, 2, 3}) {
    ASSERT_TRUE(table->Assign({id}, ones).ok());
    clock.Advance(1);
  }
  Lookup(*table, {1});  // 2 is now the least recently used.
  clock.Advance(1);
  ASSERT_TRUE(table->Assign({4}, ones).ok());
  const DynamicTable::Stats stats = table->GetStats();
  EXPECT_EQ(stats.stored_rows, 3);
  EXPECT_EQ(stats.evicted_capacity, 1);
  EXPECT_EQ(Lookup(*table, {1, 3, 4}), std::vector<float>(3 * kWidth, 1.0f));
  // Row 2 went: it comes back as its initial row (and evicts row 1 now).
  EXPECT_NE(Lookup(*table, {2}), ones);
}

TEST(DynamicTableTest, EvictionNeverTakesARowTheCallItselfTouches) {
  DynamicTableOptions options = Options();
  options.capacity = 2;
  auto table = Make(options);
  const std::vector<float> rows = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  ASSERT_TRUE(table->Assign({1, 2, 3}, rows).ok());
  // All three written and readable together: nothing else could go.
  EXPECT_EQ(table->GetStats().stored_rows, 3);
  EXPECT_EQ(Lookup(*table, {1, 2, 3}), rows);
  // The sweep brings the table back to its capacity.
  EXPECT_EQ(table->EvictIdle(), 1);
  EXPECT_EQ(table->GetStats().stored_rows, 2);
}

TEST(DynamicTableTest, IdleRowsAreEvictedAfterTheirTtl) {
  DynamicTableOptions options = Options();
  options.ttl_micros = 1000;
  options.stripes = 4;
  FakeClock clock;
  options.now_micros = clock.Function();
  auto table = Make(options);
  const std::vector<float> ones(3 * kWidth, 1.0f);
  ASSERT_TRUE(table->Assign({1, 2, 3}, ones).ok());
  clock.Advance(600);
  Lookup(*table, {2});
  clock.Advance(600);  // 1 and 3 idle for 1,200 us, 2 for 600 us.
  EXPECT_EQ(table->EvictIdle(), 2);
  EXPECT_EQ(table->GetStats().stored_rows, 1);
  EXPECT_EQ(table->GetStats().evicted_idle, 2);
  EXPECT_EQ(Row(Lookup(*table, {2}), 0), std::vector<float>(kWidth, 1.0f));
  clock.Advance(2000);
  EXPECT_EQ(table->EvictIdle(), 1);
  EXPECT_EQ(table->GetStats().stored_rows, 0);
}

TEST(DynamicTableTest, TheSweeperEvictsInTheBackground) {
  DynamicTableOptions options = Options();
  options.ttl_micros = 1;
  options.sweep_interval_micros = 1000;
  auto table = Make(options);
  ASSERT_TRUE(table->Assign({1}, std::vector<float>(kWidth, 1.0f)).ok());
  for (int i = 0; i < 5000 && table->GetStats().stored_rows > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(table->GetStats().stored_rows, 0);
  EXPECT_EQ(table->GetStats().evicted_idle, 1);
}

TEST(DynamicTableTest, AddStartsAMissingRowFromItsInitialValue) {
  auto table = Make(Options());
  auto reference = Make(Options());
  const std::vector<float> initial = Lookup(*reference, {8});
  ASSERT_TRUE(table->Add({8, 8}, std::vector<float>(2 * kWidth, 0.25f)).ok());
  const std::vector<float> row = Lookup(*table, {8});
  for (int64_t k = 0; k < kWidth; ++k) {
    EXPECT_EQ(row[k], (initial[k] + 0.25f) + 0.25f);
  }
}

// TensorFlow's SparseApplyAdagrad, written out: duplicates summed first,
// accumulators start at 0.1, rows not touched stay as they were.
TEST(DynamicTableTest, AdagradMatchesTensorFlowsFormulaOnTouchedRowsOnly) {
  DynamicTableOptions options = Options();
  options.optimizer = OptimizerKind::kAdagrad;
  auto table = Make(options);
  const std::vector<int64_t> ids = {1, 2, 3};
  std::vector<float> var = Lookup(*table, ids);
  std::vector<float> accum(var.size(), 0.1f);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  adagrad.learning_rate = 0.5;
  const std::vector<std::vector<int64_t>> steps = {{1, 1, 2}, {2, 1}};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (const std::vector<int64_t>& step_ids : steps) {
    std::vector<float> grad(step_ids.size() * kWidth);
    for (float& g : grad) g = normal(rng);
    const std::vector<float> untouched = Row(Lookup(*table, {3}), 0);
    ASSERT_TRUE(table->ApplyGradient(adagrad, step_ids, grad).ok());
    std::vector<float> summed(ids.size() * kWidth, 0.0f);
    std::vector<bool> touched(ids.size(), false);
    for (size_t i = 0; i < step_ids.size(); ++i) {
      const int64_t r = step_ids[i] - 1;
      touched[r] = true;
      for (int64_t k = 0; k < kWidth; ++k) {
        summed[r * kWidth + k] += grad[i * kWidth + k];
      }
    }
    for (size_t r = 0; r < ids.size(); ++r) {
      if (!touched[r]) continue;
      for (int64_t k = 0; k < kWidth; ++k) {
        const size_t e = r * kWidth + k;
        accum[e] += summed[e] * summed[e];
        var[e] -= 0.5f * summed[e] / std::sqrt(accum[e]);
      }
    }
    const std::vector<float> got = Lookup(*table, ids);
    for (size_t e = 0; e < var.size(); ++e) {
      EXPECT_NEAR(got[e], var[e], 1e-6f * (1 + std::fabs(var[e]))) << e;
    }
    EXPECT_TRUE(SameBits(Row(got, 2), untouched));
  }
  EXPECT_EQ(table->GetStats().steps, 2);
}

// LazyAdam over consecutive steps: bias correction counts the table's steps,
// moments move only on touched rows.
TEST(DynamicTableTest, LazyAdamMatchesTheFormulaAcrossSteps) {
  DynamicTableOptions options = Options();
  options.optimizer = OptimizerKind::kLazyAdam;
  auto table = Make(options);
  std::vector<float> var = Lookup(*table, {7});
  std::vector<double> m(kWidth, 0), v(kWidth, 0);
  OptimizerSpec lazy_adam;
  lazy_adam.kind = OptimizerKind::kLazyAdam;
  lazy_adam.learning_rate = 0.1;
  for (int step = 1; step <= 3; ++step) {
    const std::vector<float> grad = {0.5f, -1.0f, 2.0f, 0.0f};
    ASSERT_TRUE(table->ApplyGradient(lazy_adam, {7}, grad).ok());
    const double lr_t =
        0.1 * std::sqrt(1 - std::pow(0.999, step)) / (1 - std::pow(0.9, step));
    for (int64_t k = 0; k < kWidth; ++k) {
      m[k] = 0.9 * m[k] + 0.1 * grad[k];
      v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
      var[k] -= static_cast<float>(lr_t * m[k] / (std::sqrt(v[k]) + 1e-8));
    }
    const std::vector<float> got = Lookup(*table, {7});
    for (int64_t k = 0; k < kWidth; ++k) {
      EXPECT_NEAR(got[k], var[k], 1e-5) << "step " << step << " k " << k;
    }
  }
}

TEST(DynamicTableTest, BadArgumentsAreRefusedPrecisely) {
  DynamicTableOptions unseeded = Options();
  unseeded.initializer.seed.reset();
  EXPECT_THAT(DynamicTable::Create(unseeded).status().message(),
              HasSubstr("needs a seed"));
  DynamicTableOptions adam = Options();
  adam.optimizer = OptimizerKind::kAdam;
  EXPECT_THAT(DynamicTable::Create(adam).status().message(),
              HasSubstr("LazyAdam"));
  DynamicTableOptions wide = Options();
  wide.width = 0;
  EXPECT_EQ(DynamicTable::Create(wide).status().code(),
            absl::StatusCode::kInvalidArgument);
  DynamicTableOptions stripes = Options();
  stripes.stripes = 3;
  EXPECT_EQ(DynamicTable::Create(stripes).status().code(),
            absl::StatusCode::kInvalidArgument);
  DynamicTableOptions admit = Options();
  admit.admit_after = 0;
  EXPECT_EQ(DynamicTable::Create(admit).status().code(),
            absl::StatusCode::kInvalidArgument);

  DynamicTableOptions options = Options();
  options.optimizer = OptimizerKind::kAdagrad;
  auto table = Make(options);
  std::vector<float> short_out(kWidth);
  EXPECT_EQ(table->Lookup({1, 2}, absl::MakeSpan(short_out)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->Assign({1, 2}, short_out).code(),
            absl::StatusCode::kInvalidArgument);
  OptimizerSpec sgd;
  const absl::Status wrong_kind = table->ApplyGradient(sgd, {1}, short_out);
  EXPECT_EQ(wrong_kind.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_kind.message(), HasSubstr("slots of Adagrad"));
  OptimizerSpec other_accumulator;
  other_accumulator.kind = OptimizerKind::kAdagrad;
  other_accumulator.initial_accumulator_value = 1.0;
  EXPECT_EQ(table->ApplyGradient(other_accumulator, {1}, short_out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->GetStats().stored_rows, 0);
  // No ids: a valid no-op.
  EXPECT_TRUE(table->Lookup({}, {}).ok());
  EXPECT_EQ(table->GetStats().stored_rows, 0);
}

// Lookups, writes, gradients and the sweeper at once on a small table that
// keeps evicting: the counts stay consistent and the capacity holds once
// the sweeper has run. Run under ThreadSanitizer in CI.
TEST(DynamicTableTest, ConcurrentCallsKeepTheCountsConsistent) {
  DynamicTableOptions options = Options();
  options.optimizer = OptimizerKind::kAdagrad;
  options.capacity = 200;
  options.stripes = 8;
  options.admit_after = 2;
  options.ttl_micros = 2000;
  options.sweep_interval_micros = 500;
  auto table = Make(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, t] {
      std::mt19937_64 rng(t);
      OptimizerSpec adagrad;
      adagrad.kind = OptimizerKind::kAdagrad;
      for (int i = 0; i < 300; ++i) {
        std::vector<int64_t> ids(16);
        for (int64_t& id : ids) id = static_cast<int64_t>(rng() % 500);
        std::vector<float> rows(ids.size() * kWidth, 0.01f);
        switch (i % 3) {
          case 0:
            ASSERT_TRUE(table->Lookup(ids, absl::MakeSpan(rows)).ok());
            break;
          case 1:
            ASSERT_TRUE(table->Add(ids, rows).ok());
            break;
          default:
            ASSERT_TRUE(table->ApplyGradient(adagrad, ids, rows).ok());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  table->EvictIdle();
  const DynamicTable::Stats stats = table->GetStats();
  EXPECT_LE(stats.stored_rows, 200);
  EXPECT_EQ(stats.admitted - stats.evicted_idle - stats.evicted_capacity,
            stats.stored_rows);
  EXPECT_GT(stats.evicted_capacity + stats.evicted_idle, 0);
}

}  // namespace
}  // namespace paramserver
