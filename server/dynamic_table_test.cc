#include "server/dynamic_table.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
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
  options.spec.width = kWidth;
  options.spec.initializer.kind = InitializerKind::kRandomNormal;
  options.spec.initializer.seed = 1234;
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
  other.stripes = 32;  // Another layout: rows depend on (seed, id) alone.
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
  reseeded.spec.initializer.seed = 99;
  EXPECT_FALSE(SameBits(Lookup(*Make(reseeded), ids), from_a));
}

// A lookup of many new ids draws their rows before locking and looks again;
// the rows are the ones drawn one id at a time, and ids another call stored
// in between are found stored, not stored twice.
TEST(DynamicTableTest, ManyNewIdsAtOnceGetTheirOwnRows) {
  std::vector<int64_t> ids(200);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 1000 + 7 * i;
  auto one_by_one = Make(Options());
  std::vector<float> expected;
  for (const int64_t id : ids) {
    const std::vector<float> row = Lookup(*one_by_one, {id});
    expected.insert(expected.end(), row.begin(), row.end());
  }
  DynamicTableOptions options = Options();
  options.stripes = 8;
  auto table = Make(options);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { got[t] = Lookup(*table, ids); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(SameBits(got[t], expected)) << t;
  const DynamicTable::Stats stats = table->GetStats();
  EXPECT_EQ(stats.stored_rows, 200);
  EXPECT_EQ(stats.admitted, 200);
}

TEST(DynamicTableTest, RowsComeFromTheInitializer) {
  DynamicTableOptions options = Options();
  options.spec.initializer = InitializerSpec();
  options.spec.initializer.kind = InitializerKind::kConstant;
  options.spec.initializer.values = {Number(0.5)};
  options.spec.initializer.seed = 1;
  auto table = Make(options);
  EXPECT_EQ(Lookup(*table, {77}), std::vector<float>(kWidth, 0.5f));
}

TEST(DynamicTableTest, AnIdIsStoredOnlyOnceSeenAdmitAfterTimes) {
  DynamicTableOptions options = Options();
  options.spec.admit_after = 3;
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

// A lookup never stores more than the capacity: new ids that find nothing
// to evict (here: the table is empty) are not admitted and read as their
// initial rows. A gradient for ids not stored is no step.
TEST(DynamicTableTest, ALookupOfManyNewIdsStaysWithinTheCapacity) {
  DynamicTableOptions options = Options();
  options.spec.capacity = 2;
  auto table = Make(options);
  auto reference = Make(Options());
  const std::vector<int64_t> ids = {1, 2, 3, 4, 5};
  EXPECT_TRUE(SameBits(Lookup(*table, ids), Lookup(*reference, ids)));
  EXPECT_EQ(table->GetStats().stored_rows, 2);
  OptimizerSpec sgd;
  ASSERT_TRUE(
      table->ApplyGradient(sgd, {99}, std::vector<float>(kWidth, 1)).ok());
  EXPECT_EQ(table->GetStats().steps, 0);
  EXPECT_EQ(table->GetStats().dropped_gradient_rows, 1);
}

TEST(DynamicTableTest, FullTableWithoutEvictionRefusesAndChangesNothing) {
  DynamicTableOptions options = Options();
  options.spec.capacity = 2;
  options.spec.evict_when_full = false;
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
  options.spec.capacity = 3;
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
  options.spec.capacity = 2;
  auto table = Make(options);
  const std::vector<float> rows = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  ASSERT_TRUE(table->Assign({1, 2, 3}, rows).ok());
  // All three written and readable together: nothing else could go.
  EXPECT_EQ(table->GetStats().stored_rows, 3);
  EXPECT_EQ(Lookup(*table, {1, 2, 3}), rows);
  // The sweep brings the table back to its capacity.
  EXPECT_EQ(*table->EvictIdle(), 1);
  EXPECT_EQ(table->GetStats().stored_rows, 2);
}

TEST(DynamicTableTest, IdleRowsAreEvictedAfterTheirTtl) {
  DynamicTableOptions options = Options();
  options.spec.ttl_micros = 1000;
  options.stripes = 4;
  FakeClock clock;
  options.now_micros = clock.Function();
  auto table = Make(options);
  const std::vector<float> ones(3 * kWidth, 1.0f);
  ASSERT_TRUE(table->Assign({1, 2, 3}, ones).ok());
  clock.Advance(600);
  Lookup(*table, {2});
  clock.Advance(600);  // 1 and 3 idle for 1,200 us, 2 for 600 us.
  EXPECT_EQ(*table->EvictIdle(), 2);
  EXPECT_EQ(table->GetStats().stored_rows, 1);
  EXPECT_EQ(table->GetStats().evicted_idle, 2);
  EXPECT_EQ(Row(Lookup(*table, {2}), 0), std::vector<float>(kWidth, 1.0f));
  clock.Advance(2000);
  EXPECT_EQ(*table->EvictIdle(), 1);
  EXPECT_EQ(table->GetStats().stored_rows, 0);
}

TEST(DynamicTableTest, TheSweeperEvictsInTheBackground) {
  DynamicTableOptions options = Options();
  options.spec.ttl_micros = 1;
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
  options.spec.optimizer = OptimizerKind::kAdagrad;
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
  options.spec.optimizer = OptimizerKind::kLazyAdam;
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
  unseeded.spec.initializer.seed.reset();
  EXPECT_THAT(DynamicTable::Create(unseeded).status().message(),
              HasSubstr("needs a seed"));
  DynamicTableOptions adam = Options();
  adam.spec.optimizer = OptimizerKind::kAdam;
  EXPECT_THAT(DynamicTable::Create(adam).status().message(),
              HasSubstr("LazyAdam"));
  DynamicTableOptions wide = Options();
  wide.spec.width = 0;
  EXPECT_EQ(DynamicTable::Create(wide).status().code(),
            absl::StatusCode::kInvalidArgument);
  DynamicTableOptions stripes = Options();
  stripes.stripes = 3;
  EXPECT_EQ(DynamicTable::Create(stripes).status().code(),
            absl::StatusCode::kInvalidArgument);
  DynamicTableOptions admit = Options();
  admit.spec.admit_after = 0;
  EXPECT_EQ(DynamicTable::Create(admit).status().code(),
            absl::StatusCode::kInvalidArgument);

  DynamicTableOptions options = Options();
  options.spec.optimizer = OptimizerKind::kAdagrad;
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

// A peek returns what a lookup would and changes nothing: no sighting is
// counted (the next lookup is still the first), no row stored, no last use
// moved (the peeked row is still the one evicted first).
TEST(DynamicTableTest, APeekChangesNothing) {
  DynamicTableOptions options = Options();
  options.spec.admit_after = 2;
  options.spec.capacity = 2;
  FakeClock clock;
  options.now_micros = clock.Function();
  auto table = Make(options);
  auto reference = Make(Options());
  std::vector<float> peeked(2 * kWidth);
  ASSERT_TRUE(table->Peek({5, 6}, absl::MakeSpan(peeked)).ok());
  EXPECT_TRUE(SameBits(peeked, Lookup(*reference, {5, 6})));
  ASSERT_TRUE(table->Peek({5, 6}, absl::MakeSpan(peeked)).ok());
  const DynamicTable::Stats untouched = table->GetStats();
  EXPECT_EQ(untouched.lookup_ids, 0);
  EXPECT_EQ(untouched.stored_rows, 0);
  Lookup(*table, {5});  // The first sighting, despite two peeks.
  EXPECT_EQ(table->GetStats().stored_rows, 0);

  const std::vector<float> one(kWidth, 1.0f), two(kWidth, 2.0f);
  ASSERT_TRUE(table->Assign({1}, one).ok());
  clock.Advance(10);
  ASSERT_TRUE(table->Assign({2}, two).ok());
  clock.Advance(10);
  std::vector<float> row(kWidth);
  ASSERT_TRUE(table->Peek({1}, absl::MakeSpan(row)).ok());
  EXPECT_EQ(row, one);
  ASSERT_TRUE(table->Assign({3}, two).ok());  // Evicts 1, peeked or not.
  ASSERT_TRUE(table->Peek({1, 2}, absl::MakeSpan(peeked)).ok());
  EXPECT_NE(Row(peeked, 0), one);
  EXPECT_EQ(Row(peeked, 1), two);
}

// A slice of a table spread over 3 servers holds its own ids only and
// refuses a call naming another (nothing changes); its ids get the rows the
// whole table would give them.
TEST(DynamicTableTest, ASliceOfASpreadTableRefusesOtherShardsIds) {
  DynamicTableOptions bad = Options();
  bad.spec.id_shard_count = 3;
  bad.spec.id_shard_index = 3;
  EXPECT_EQ(DynamicTable::Create(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.spec.id_shard_count = 0;
  bad.spec.id_shard_index = 0;
  EXPECT_EQ(DynamicTable::Create(bad).status().code(),
            absl::StatusCode::kInvalidArgument);

  DynamicTableOptions options = Options();
  options.spec.id_shard_index = 1;
  options.spec.id_shard_count = 3;
  auto slice = Make(options);
  auto whole = Make(Options());
  std::vector<int64_t> own, other;
  int per_shard[3] = {0, 0, 0};
  for (int64_t id = 0; id < 3000; ++id) {
    const int32_t shard = IdShardOf(id, 3);
    ++per_shard[shard];
    (shard == 1 ? own : other).push_back(id);
  }
  // Every shard gets about a third of the ids.
  for (const int count : per_shard) {
    EXPECT_GT(count, 900);
    EXPECT_LT(count, 1100);
  }
  EXPECT_TRUE(SameBits(Lookup(*slice, own), Lookup(*whole, own)));
  std::vector<float> out(2 * kWidth);
  const absl::Status refused =
      slice->Lookup({own[0], other[0]}, absl::MakeSpan(out));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(),
              HasSubstr(absl::StrCat("Id ", other[0], " of dynamic table")));
  EXPECT_THAT(refused.message(), HasSubstr("this server holds id shard 1"));
  EXPECT_EQ(slice->Assign({other[1]}, Row(out, 0)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(slice->Add({other[1]}, Row(out, 0)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      slice->ApplyGradient(OptimizerSpec{}, {other[1]}, Row(out, 0)).code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(slice->GetStats().stored_rows, static_cast<int64_t>(own.size()));
}

// Lookups, writes, gradients and the sweeper at once on a small table that
// keeps evicting: the counts stay consistent and the capacity holds once
// the sweeper has run. Run under ThreadSanitizer in CI.
TEST(DynamicTableTest, ConcurrentCallsKeepTheCountsConsistent) {
  DynamicTableOptions options = Options();
  options.spec.optimizer = OptimizerKind::kAdagrad;
  options.spec.capacity = 200;
  options.stripes = 8;
  options.spec.admit_after = 2;
  options.spec.ttl_micros = 2000;
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
  ASSERT_TRUE(table->EvictIdle().ok());
  const DynamicTable::Stats stats = table->GetStats();
  EXPECT_LE(stats.stored_rows, 200);
  EXPECT_EQ(stats.admitted - stats.evicted_idle - stats.evicted_capacity,
            stats.stored_rows);
  EXPECT_GT(stats.evicted_capacity + stats.evicted_idle, 0);
}

// A change log that keeps copies of its records, or fails on demand.
class RecordingLog : public TableChangeLog {
 public:
  struct Record {
    int64_t time_micros;
    int64_t steps;
    std::vector<int64_t> written_ids;
    std::vector<float> written_entries;
    std::vector<int64_t> written_last_use;
    std::vector<int64_t> evicted_ids;
    std::vector<int64_t> touched_ids;
    std::vector<int64_t> touched_last_use;
  };

  absl::StatusOr<uint64_t> Append(const TableChange& change) override {
    MutexLock lock(&mu_);
    if (fail_appends_) return absl::DataLossError("disk on fire");
    records_.push_back({change.time_micros, change.steps,
                        std::vector<int64_t>(change.written_ids.begin(),
                                             change.written_ids.end()),
                        std::vector<float>(change.written_entries.begin(),
                                           change.written_entries.end()),
                        std::vector<int64_t>(change.written_last_use.begin(),
                                             change.written_last_use.end()),
                        std::vector<int64_t>(change.evicted_ids.begin(),
                                             change.evicted_ids.end()),
                        std::vector<int64_t>(change.touched_ids.begin(),
                                             change.touched_ids.end()),
                        std::vector<int64_t>(change.touched_last_use.begin(),
                                             change.touched_last_use.end())});
    return records_.size();
  }
  absl::Status Commit(uint64_t position) override {
    MutexLock lock(&mu_);
    committed_ = std::max(committed_, position);
    return fail_commits_ ? absl::UnavailableError("fsync failed")
                         : absl::OkStatus();
  }

  void set_fail_appends(bool fail) {
    MutexLock lock(&mu_);
    fail_appends_ = fail;
  }
  void set_fail_commits(bool fail) {
    MutexLock lock(&mu_);
    fail_commits_ = fail;
  }
  std::vector<Record> records() {
    MutexLock lock(&mu_);
    return records_;
  }
  void clear() {
    MutexLock lock(&mu_);
    records_.clear();
  }
  uint64_t committed() {
    MutexLock lock(&mu_);
    return committed_;
  }

 private:
  Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_appends_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_commits_ ABSL_GUARDED_BY(mu_) = false;
};

struct StoredRow {
  int64_t last_use;
  std::vector<float> entry;
  bool operator==(const StoredRow& other) const {
    return last_use == other.last_use && entry == other.entry;
  }
};

std::map<int64_t, StoredRow> Contents(const DynamicTable& table) {
  std::map<int64_t, StoredRow> rows;
  table.ForEachRow(
      [&rows](int64_t id, int64_t last_use, absl::Span<const float> entry) {
        rows[id] = {last_use, std::vector<float>(entry.begin(), entry.end())};
      });
  return rows;
}

void ReplayAll(RecordingLog& log, DynamicTable& table) {
  for (const RecordingLog::Record& record : log.records()) {
    TableChange change;
    change.time_micros = record.time_micros;
    change.steps = record.steps;
    change.written_ids = record.written_ids;
    change.written_entries = record.written_entries;
    change.written_last_use = record.written_last_use;
    change.evicted_ids = record.evicted_ids;
    change.touched_ids = record.touched_ids;
    change.touched_last_use = record.touched_last_use;
    ASSERT_TRUE(table.Replay(change).ok());
  }
}

// Last uses that only lookups moved reach the log at the next sweep, and a
// table replayed from it evicts by them: the row looked up late outlives
// the TTL of its write; the row only written does not.
TEST(DynamicTableTest, ALookupsLastUseIsLoggedAndSurvivesReplay) {
  RecordingLog log;
  FakeClock clock;
  DynamicTableOptions options = Options();
  options.spec.ttl_micros = 100;
  options.now_micros = clock.Function();
  options.change_log = &log;
  auto table = Make(options);
  const std::vector<float> rows(2 * kWidth, 1.0f);
  ASSERT_TRUE(table->Assign({1, 2}, rows).ok());
  clock.Advance(80);
  Lookup(*table, {1});
  ASSERT_TRUE(table->EvictIdle().ok());  // Logs 1's use; evicts nothing.
  const std::vector<RecordingLog::Record> records = log.records();
  ASSERT_EQ(records.size(), 2u);  // The write, and 1's last use.
  EXPECT_EQ(records[1].touched_ids, std::vector<int64_t>{1});
  ASSERT_TRUE(table->EvictIdle().ok());  // Nothing new to log.
  EXPECT_EQ(log.records().size(), 2u);

  DynamicTableOptions replay_options = Options();
  replay_options.spec.ttl_micros = 100;
  replay_options.now_micros = clock.Function();
  auto replayed = Make(replay_options);
  ReplayAll(log, *replayed);
  clock.Advance(50);  // 130 since the write, 50 since the lookup.
  absl::StatusOr<int64_t> evicted = replayed->EvictIdle();
  ASSERT_TRUE(evicted.ok()) << evicted.status();
  EXPECT_EQ(*evicted, 1);
  std::vector<float> peeked(2 * kWidth);
  ASSERT_TRUE(replayed->Peek({1, 2}, absl::MakeSpan(peeked)).ok());
  EXPECT_EQ(Row(peeked, 0), Row(rows, 0));  // Still stored.
  EXPECT_NE(Row(peeked, 1), Row(rows, 1));  // Evicted: its initial row.
}

// Replaying the records in order over an empty table rebuilds every row
// that was written (values, slots, last use) and none that was evicted; the
// only rows the log leaves out are ones a lookup admitted and nothing wrote,
// which hold their initial entry.
TEST(DynamicTableTest, ReplayingTheLogRebuildsTheWrittenRows) {
  RecordingLog log;
  FakeClock clock;
  DynamicTableOptions options = Options();
  options.spec.optimizer = OptimizerKind::kAdagrad;
  options.spec.capacity = 6;
  options.spec.ttl_micros = 500;
  options.stripes = 1;  // Exact LRU, so the test knows the victims.
  options.now_micros = clock.Function();
  options.change_log = &log;
  auto table = Make(options);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  ASSERT_TRUE(
      table->Assign({1, 2, 3}, std::vector<float>(3 * kWidth, 1.0f)).ok());
  clock.Advance(300);
  Lookup(*table, {4, 5});  // Admitted, not logged.
  ASSERT_TRUE(table
                  ->ApplyGradient(adagrad, {2, 4, 2},
                                  std::vector<float>(3 * kWidth, 0.5f))
                  .ok());
  clock.Advance(250);
  ASSERT_TRUE(table->Add({3, 9}, std::vector<float>(2 * kWidth, 2.0f)).ok());
  // Full: admitting three evicts 1, 5 and 2, and logs it.
  Lookup(*table, {10, 11, 12});
  clock.Advance(300);
  ASSERT_TRUE(table->EvictIdle().ok());  // 4, idle since 300.
  EXPECT_EQ(log.committed(), log.records().size());

  DynamicTableOptions replica_options = Options();
  replica_options.spec.optimizer = OptimizerKind::kAdagrad;
  auto replica = Make(replica_options);
  ReplayAll(log, *replica);
  const std::map<int64_t, StoredRow> original = Contents(*table);
  const std::map<int64_t, StoredRow> rebuilt = Contents(*replica);
  auto fresh = Make(replica_options);
  for (const auto& [id, row] : original) {
    const auto it = rebuilt.find(id);
    if (it != rebuilt.end()) {
      EXPECT_EQ(it->second, row) << id;
      continue;
    }
    // Left out of the log: admitted by a lookup, never written.
    std::vector<float> initial = Lookup(*fresh, {id});
    initial.resize(row.entry.size(), 0.1f);  // Adagrad's accumulators.
    EXPECT_EQ(row.entry, initial) << id;
  }
  for (const auto& [id, row] : rebuilt) {
    EXPECT_TRUE(original.count(id)) << "id " << id << " should be evicted";
  }
  EXPECT_EQ(replica->GetStats().steps, table->GetStats().steps);
  // The run covered what the log must carry: writes, a step, evictions by
  // capacity and by idle time, and rows that survived them.
  int64_t steps = 0, evicted = 0;
  for (const RecordingLog::Record& record : log.records()) {
    steps = std::max(steps, record.steps);
    evicted += static_cast<int64_t>(record.evicted_ids.size());
  }
  EXPECT_EQ(steps, 1);
  const DynamicTable::Stats stats = table->GetStats();
  EXPECT_GT(stats.evicted_capacity, 0);
  EXPECT_GT(stats.evicted_idle, 0);
  EXPECT_EQ(evicted, stats.evicted_capacity + stats.evicted_idle);
  EXPECT_EQ(rebuilt.size(), 2u);  // 3 and 9.
}

// A checkpoint's dump (LogRows) records every row with its last use; the
// dump and the changes after it, replayed over an empty table, give the
// table as it is, rows admitted by lookups included. A writer runs during
// the dump: each change to a row is recorded before or after the row's dump.
TEST(DynamicTableTest, TheDumpAndTheChangesAfterItRebuildTheTable) {
  RecordingLog log;
  FakeClock clock;
  DynamicTableOptions options = Options();
  options.spec.optimizer = OptimizerKind::kAdagrad;
  options.stripes = 4;
  options.now_micros = clock.Function();
  options.change_log = &log;
  auto table = Make(options);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  std::vector<int64_t> ids(300);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 5 * i;
  ASSERT_TRUE(
      table->Assign(ids, std::vector<float>(ids.size() * kWidth, 1.0f)).ok());
  clock.Advance(10);
  Lookup(*table, {3, 4});  // Admitted by a lookup: only a dump records them.
  log.clear();             // The checkpoint lets the log before it go.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int step = 0; !done.load() || step < 20; ++step) {
      const std::vector<int64_t> touched = {ids[step % 300],
                                            ids[(7 * step) % 300]};
      ASSERT_TRUE(table
                      ->ApplyGradient(adagrad, touched,
                                      std::vector<float>(2 * kWidth, 0.5f))
                      .ok());
    }
  });
  auto dumped = table->LogRows();
  done.store(true);
  writer.join();
  ASSERT_TRUE(dumped.ok()) << dumped.status();
  EXPECT_GT(*dumped, 0u);

  DynamicTableOptions replica_options = Options();
  replica_options.spec.optimizer = OptimizerKind::kAdagrad;
  auto replica = Make(replica_options);
  ReplayAll(log, *replica);
  EXPECT_EQ(Contents(*replica), Contents(*table));
  EXPECT_EQ(replica->GetStats().stored_rows, 302);
  EXPECT_EQ(replica->GetStats().steps, table->GetStats().steps);
}

// A change the log refuses does not happen: rows, counts and steps stay.
TEST(DynamicTableTest, AChangeTheLogRefusesChangesNothing) {
  RecordingLog log;
  DynamicTableOptions options = Options();
  options.spec.optimizer = OptimizerKind::kAdagrad;
  options.spec.capacity = 2;
  options.change_log = &log;
  auto table = Make(options);
  ASSERT_TRUE(table->Assign({1, 2}, std::vector<float>(2 * kWidth, 1.0f)).ok());
  const std::map<int64_t, StoredRow> before = Contents(*table);
  const DynamicTable::Stats stats_before = table->GetStats();
  log.set_fail_appends(true);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  EXPECT_EQ(
      table->ApplyGradient(adagrad, {1}, std::vector<float>(kWidth, 1)).code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(table->Assign({3}, std::vector<float>(kWidth, 5)).code(),
            absl::StatusCode::kDataLoss);
  std::vector<float> out(kWidth);
  // A lookup that would evict to admit 7 must log the eviction first.
  EXPECT_EQ(table->Lookup({7}, absl::MakeSpan(out)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Contents(*table), before);
  const DynamicTable::Stats stats_after = table->GetStats();
  EXPECT_EQ(stats_after.stored_rows, stats_before.stored_rows);
  EXPECT_EQ(stats_after.steps, stats_before.steps);
  EXPECT_EQ(stats_after.evicted_capacity, 0);
  log.set_fail_appends(false);
  // A commit that fails is the call's error (the change took effect in
  // memory, as the variable store's do).
  log.set_fail_commits(true);
  EXPECT_EQ(table->Assign({1}, std::vector<float>(kWidth, 5)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(DynamicTableTest, ReplayRefusesEntriesThatDoNotFitTheIds) {
  auto table = Make(Options());
  const std::vector<int64_t> ids = {1, 2};
  const std::vector<float> entries(kWidth);  // One entry for two ids.
  TableChange change;
  change.written_ids = ids;
  change.written_entries = entries;
  EXPECT_EQ(table->Replay(change).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->GetStats().stored_rows, 0);
}

}  // namespace
}  // namespace paramserver
