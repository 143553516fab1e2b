// The dynamic table's core (server/dynamic_table.h) in one process: inserts
// of new ids per second, lookups of stored ids per second, and the bytes it
// holds per stored row against the row's payload (its id, row and slots).
// With --redis_port, the same rows stored in Redis the way a Redis user
// would (one key per row and one per accumulator, as the embedding
// benchmark's Adagrad step) and Redis's own memory count per row, measured
// in the same run (run_dynamic_table_benchmark.sh starts Redis).
//
// The speeds are the table's own, with no RPC: the served figures come with
// the table's RPCs, and only then a speed ratio against Redis means
// anything. The memory ratio means something now.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmarks/redis_commands.h"
#include "server/dynamic_table.h"

ABSL_FLAG(int64_t, rows, 1000000, "New ids inserted.");
ABSL_FLAG(int64_t, dim, 64, "float32 elements per row.");
ABSL_FLAG(int64_t, ids_per_call, 4096, "Ids per call.");
ABSL_FLAG(int, threads, 2, "Threads inserting and looking up.");
ABSL_FLAG(int, redis_port, 0, "Redis on 127.0.0.1 (0: no Redis figures).");
ABSL_FLAG(int64_t, redis_rows, 200000, "Rows stored in Redis.");

namespace paramserver {
namespace {

[[noreturn]] void Die(const std::string& what) { DieWith(what); }

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Runs `work(thread, first_call, calls)` on `threads` threads splitting
// `calls` calls; returns the wall time.
template <typename Work>
double RunSplit(int threads, int64_t calls, Work work) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> running;
  const int64_t per_thread = (calls + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const int64_t first = t * per_thread;
    const int64_t count = std::min(per_thread, calls - first);
    if (count > 0)
      running.emplace_back([&work, t, first, count] { work(t, first, count); });
  }
  for (std::thread& thread : running) thread.join();
  return Seconds(start);
}

// Redis's bytes per row holding `rows` rows as emb:ID and acc:ID keys of
// `dim` floats each.
double RedisBytesPerRow(int64_t rows, int64_t dim) {
  redisContext* redis =
      redisConnect("127.0.0.1", absl::GetFlag(FLAGS_redis_port));
  if (redis == nullptr || redis->err) Die("cannot connect to redis");
  freeReplyObject(redisCommand(redis, "FLUSHALL"));
  const int64_t before = RedisUsedMemory(redis);
  const std::string row(dim * sizeof(float), '\x3f');
  constexpr int64_t kPerCommand = 1000;
  for (int64_t first = 0; first < rows; first += kPerCommand) {
    const int64_t count = std::min(kPerCommand, rows - first);
    std::vector<std::string> keys;
    keys.reserve(2 * count);
    for (int64_t id = first; id < first + count; ++id) {
      keys.push_back(absl::StrCat("emb:", id));
      keys.push_back(absl::StrCat("acc:", id));
    }
    std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
    pairs.reserve(keys.size());
    for (const std::string& key : keys) pairs.emplace_back(key, row);
    Mset(redis, pairs);
  }
  const int64_t after = RedisUsedMemory(redis);
  freeReplyObject(redisCommand(redis, "FLUSHALL"));
  redisFree(redis);
  return static_cast<double>(after - before) / rows;
}

void Run() {
  const int64_t rows = absl::GetFlag(FLAGS_rows);
  const int64_t dim = absl::GetFlag(FLAGS_dim);
  const int64_t per_call = absl::GetFlag(FLAGS_ids_per_call);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int64_t calls = (rows + per_call - 1) / per_call;

  DynamicTableOptions options;
  options.name = "bench";
  options.spec.width = dim;
  options.spec.initializer.kind = InitializerKind::kRandomNormal;
  options.spec.initializer.stddev = 0.01;
  options.spec.initializer.seed = 7;
  options.spec.optimizer = OptimizerKind::kAdagrad;
  auto table_or = DynamicTable::Create(options);
  if (!table_or.ok()) Die(table_or.status().ToString());
  DynamicTable& table = **table_or;

  // Ids spread over all of int64, as hashed features are.
  std::vector<int64_t> ids(calls * per_call);
  std::mt19937_64 random(11);
  for (int64_t& id : ids) id = static_cast<int64_t>(random());

  auto lookup_calls = [&](int, int64_t first, int64_t count) {
    std::vector<float> out(per_call * dim);
    for (int64_t c = first; c < first + count; ++c) {
      const absl::Span<const int64_t> call(ids.data() + c * per_call, per_call);
      if (absl::Status s = table.Lookup(call, absl::MakeSpan(out)); !s.ok()) {
        Die(s.ToString());
      }
    }
  };
  const double insert_seconds = RunSplit(threads, calls, lookup_calls);
  const DynamicTable::Stats stats = table.GetStats();
  if (stats.stored_rows != static_cast<int64_t>(ids.size())) {
    Die(absl::StrCat("stored ", stats.stored_rows, " of ", ids.size()));
  }
  // The same calls again: every id is stored now.
  const double hit_seconds = RunSplit(threads, calls, lookup_calls);

  std::vector<float> grad(per_call * dim, 0.01f);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::kAdagrad;
  const double push_seconds =
      RunSplit(threads, calls, [&](int, int64_t first, int64_t count) {
        for (int64_t c = first; c < first + count; ++c) {
          const absl::Span<const int64_t> call(ids.data() + c * per_call,
                                               per_call);
          if (absl::Status s = table.ApplyGradient(adagrad, call, grad);
              !s.ok()) {
            Die(s.ToString());
          }
        }
      });

  const double n = static_cast<double>(ids.size());
  // Payload: the id, the row and its Adagrad accumulator.
  const double payload = sizeof(int64_t) + 2.0 * dim * sizeof(float);
  const double bytes_per_row = static_cast<double>(stats.bytes) / n;
  std::printf(
      "dynamic table, %lld new ids (uniform over int64), %lld x float32, "
      "Adagrad slots, %lld ids per call, %d threads, in process\n",
      static_cast<long long>(ids.size()), static_cast<long long>(dim),
      static_cast<long long>(per_call), threads);
  std::printf("  insert new ids (lookup, initializer per row): %.2fM rows/s\n",
              n / insert_seconds / 1e6);
  std::printf("  lookup stored ids:                           %.2fM rows/s\n",
              n / hit_seconds / 1e6);
  std::printf("  Adagrad step on stored ids:                  %.2fM rows/s\n",
              n / push_seconds / 1e6);
  std::printf(
      "  memory: %.1f bytes per stored row, payload %.0f (id 8 + row + "
      "accumulator): %.3fx payload\n",
      bytes_per_row, payload, bytes_per_row / payload);
  if (absl::GetFlag(FLAGS_redis_port) != 0) {
    const int64_t redis_rows = absl::GetFlag(FLAGS_redis_rows);
    const double redis = RedisBytesPerRow(redis_rows, dim);
    std::printf(
        "  Redis, %lld rows as emb:ID and acc:ID keys: %.1f bytes per row, "
        "%.3fx payload; ours uses %.2fx less\n",
        static_cast<long long>(redis_rows), redis, redis / payload,
        redis / bytes_per_row);
  }
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  paramserver::Run();
  return 0;
}
