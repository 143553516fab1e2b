// Gathering embedding rows from a running ps_server against Redis with one
// key per row, in the same run: 4,096 Zipf-distributed ids (s = 1.05) per
// call from a 1,000,000 x 64 float32 table, GatherRows against MGET of the
// same 4,096 keys, with 1 and with 8 concurrent clients (threads, each with
// its own connection). Prints rows per second and the ratio. Then a sparse
// Adagrad push of the same ids' gradient rows (PushRows, duplicates summed,
// accumulators on the server) against what a Redis user does for the same
// step: MGET each row and its accumulator, apply Adagrad on the worker, MSET
// them back (two round trips, and not atomic between workers). Then the same
// ids as bags of --bag_size (embedding_lookup_sparse, mean; the last bag
// holds what is left): pooled on the server by LookupSparse, against
// gathering the rows and pooling them on the worker, from ps_server and from
// Redis. Bytes on the wire are loopback bytes (/proc/net/dev, lo, received)
// per call of one client, headers and framing included: run it on a quiet
// machine.
//
//   embedding_benchmark --server=127.0.0.1:PORT --redis_port=PORT
// (benchmarks/run_embedding_benchmark.sh starts both.)

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmarks/redis_commands.h"
#include "client/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "ps_server HOST:PORT.");
ABSL_FLAG(int, redis_port, 6379, "Redis port on 127.0.0.1.");
ABSL_FLAG(int64_t, rows, 1000000, "Rows of the table.");
ABSL_FLAG(int64_t, dim, 64, "float32 elements per row.");
ABSL_FLAG(int64_t, ids_per_call, 4096, "Ids per gather.");
ABSL_FLAG(double, zipf_s, 1.05, "Zipf exponent of the ids.");
ABSL_FLAG(int64_t, bag_size, 20, "Ids per bag in the pooled cases.");
ABSL_FLAG(double, learning_rate, 0.01, "Adagrad's learning rate.");
ABSL_FLAG(double, seconds, 3, "Measuring time per case.");
ABSL_FLAG(int, repeats, 3, "Alternating repeats of each case; medians.");

namespace paramserver {
namespace {

constexpr char kTable[] = "bench/embedding";
constexpr int kBatches = 64;  // Distinct id lists, cycled through.

[[noreturn]] void Die(const std::string& what) { DieWith(what); }

redisContext* ConnectRedis() {
  redisContext* redis =
      redisConnect("127.0.0.1", absl::GetFlag(FLAGS_redis_port));
  if (redis == nullptr || redis->err) Die("cannot connect to redis");
  return redis;
}

std::unique_ptr<ParameterServerClient> ConnectPs() {
  ClientOptions options;
  options.timeout = absl::Seconds(120);
  auto client =
      ParameterServerClient::Connect(absl::GetFlag(FLAGS_server), options);
  if (!client.ok()) Die(client.status().ToString());
  return *std::move(client);
}

std::string RedisKey(int64_t id) { return absl::StrCat("emb:", id); }
std::string AccumulatorKey(int64_t id) { return absl::StrCat("acc:", id); }

// Bytes received on the loopback interface so far.
int64_t LoopbackBytes() {
  std::ifstream dev("/proc/net/dev");
  std::string line;
  while (std::getline(dev, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(' ');
    if (line.compare(start, colon - start, "lo") != 0) continue;
    return std::strtoll(line.c_str() + colon + 1, nullptr, 10);
  }
  Die("no lo in /proc/net/dev");
}

// MGET of `keys`; dies unless every key has a value of `row_bytes`. The
// caller frees the reply.
redisReply* Mget(redisContext* context, const std::vector<std::string>& keys,
                 size_t row_bytes) {
  redisReply* reply = MgetOrNil(context, keys);
  for (size_t k = 0; k < reply->elements; ++k) {
    if (reply->element[k]->len != row_bytes) Die("MGET: short row");
  }
  return reply;
}

// Tables of the same shape in both (random values, not the same ones): the
// server initializes its own; Redis gets each row under its key, 1,000 keys
// per MSET.
void Load(int64_t rows, int64_t dim) {
  VariableRequest request;
  request.name = kTable;
  request.shape = TensorShape{rows, dim};
  request.reuse = ReuseMode::kAutoReuse;
  request.initializer.kind = InitializerKind::kRandomUniform;
  request.initializer.seed = 1;
  auto ps = ConnectPs();
  if (absl::Status s = ps->GetVariable(request).status(); !s.ok()) {
    Die(s.ToString());
  }
  redisContext* redis = ConnectRedis();
  std::mt19937 random(1);
  std::uniform_real_distribution<float> uniform(0, 1);
  std::vector<float> row(dim);
  constexpr int64_t kPerCommand = 1000;
  for (int64_t first = 0; first < rows; first += kPerCommand) {
    const int64_t count = std::min(kPerCommand, rows - first);
    std::vector<std::string> keys;
    std::vector<std::string> values;
    keys.reserve(count);
    values.reserve(count);
    for (int64_t id = first; id < first + count; ++id) {
      for (float& x : row) x = uniform(random);
      keys.push_back(RedisKey(id));
      values.emplace_back(reinterpret_cast<const char*>(row.data()),
                          row.size() * sizeof(float));
    }
    std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
    pairs.reserve(count);
    for (int64_t i = 0; i < count; ++i) pairs.emplace_back(keys[i], values[i]);
    Mset(redis, pairs);
  }
  redisFree(redis);
}

// kBatches lists of ids, Zipf(s) over the table's rows; rank r (0 the most
// frequent) is spread over the table by a fixed permutation.
std::vector<std::vector<int64_t>> ZipfBatches(int64_t rows, int64_t per_call,
                                              double s) {
  std::vector<double> cumulative(rows);
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
    cumulative[r] = sum;
  }
  std::vector<int64_t> permutation(rows);
  std::iota(permutation.begin(), permutation.end(), 0);
  std::mt19937_64 random(7);
  std::shuffle(permutation.begin(), permutation.end(), random);
  std::uniform_real_distribution<double> uniform(0, sum);
  std::vector<std::vector<int64_t>> batches(kBatches);
  for (std::vector<int64_t>& batch : batches) {
    batch.resize(per_call);
    for (int64_t& id : batch) {
      const int64_t rank = std::lower_bound(cumulative.begin(),
                                            cumulative.end(), uniform(random)) -
                           cumulative.begin();
      id = permutation[std::min(rank, rows - 1)];
    }
  }
  return batches;
}

// Runs `clients` threads, each calling `call(client_index, batch_index)` in
// a loop for the measuring time; returns calls per second.
template <typename MakeCall>
double Measure(int clients, MakeCall make_call) {
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::atomic<int64_t> calls{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto call = make_call();
      call(c);  // Warm up the connection.
      ++ready;
      while (!go.load()) std::this_thread::yield();
      const absl::Time end = absl::Now() + absl::Seconds(seconds);
      int64_t n = 0;
      for (int i = c; absl::Now() < end; ++i) {
        call(i);
        ++n;
      }
      calls += n;
    });
  }
  while (ready.load() < clients) absl::SleepFor(absl::Milliseconds(1));
  go = true;
  for (std::thread& t : threads) t.join();
  return calls.load() / seconds;
}

// Loopback bytes per call of one client, over `calls` calls after one to
// warm up.
template <typename MakeCall>
double BytesPerCall(MakeCall make_call, int calls = 32) {
  auto call = make_call();
  call(0);
  const int64_t before = LoopbackBytes();
  for (int i = 1; i <= calls; ++i) call(i);
  return static_cast<double>(LoopbackBytes() - before) / calls;
}

// The mean of each bag's rows (bag b: rows [offsets[b], offsets[b + 1]),
// the last to num_rows; row k's bytes at row_at(k); as LookupSparse's kMean
// with no weights), as a worker pools the rows it gathered.
template <typename RowAt>
std::vector<float> PoolOnWorker(RowAt row_at, size_t num_rows, int64_t dim,
                                const std::vector<int64_t>& offsets) {
  std::vector<float> pooled(offsets.size() * dim, 0.0f);
  std::vector<float> row(dim);
  for (size_t b = 0; b < offsets.size(); ++b) {
    const size_t end = b + 1 < offsets.size() ? offsets[b + 1] : num_rows;
    float* out = pooled.data() + b * dim;
    for (size_t k = offsets[b]; k < end; ++k) {
      std::memcpy(row.data(), row_at(k), dim * sizeof(float));
      for (int64_t j = 0; j < dim; ++j) out[j] += row[j];
    }
    const float count = static_cast<float>(end - offsets[b]);
    for (int64_t j = 0; j < dim; ++j) out[j] /= count;
  }
  return pooled;
}

// The Redis user's sparse Adagrad step, as SparseApplyAdagrad does it:
// duplicate ids' gradients summed, then for each distinct id
// acc += g * g; row -= lr * g / sqrt(acc), a missing accumulator starting at
// 0.1. Reads every row and accumulator with one MGET, writes them back with
// one MSET.
void RedisAdagradStep(redisContext* context, absl::Span<const int64_t> ids,
                      const float* gradient, int64_t dim, float lr) {
  absl::flat_hash_map<int64_t, size_t> slot_of;
  std::vector<int64_t> distinct;
  std::vector<float> summed;
  for (size_t k = 0; k < ids.size(); ++k) {
    auto [it, added] = slot_of.try_emplace(ids[k], distinct.size());
    if (added) {
      distinct.push_back(ids[k]);
      summed.insert(summed.end(), gradient + k * dim, gradient + (k + 1) * dim);
    } else {
      float* sum = summed.data() + it->second * dim;
      for (int64_t j = 0; j < dim; ++j) sum[j] += gradient[k * dim + j];
    }
  }
  const size_t row_bytes = dim * sizeof(float);
  std::vector<std::string> keys;
  keys.reserve(2 * distinct.size());
  for (int64_t id : distinct) keys.push_back(RedisKey(id));
  for (int64_t id : distinct) keys.push_back(AccumulatorKey(id));
  redisReply* reply = MgetOrNil(context, keys);
  std::vector<float> rows(distinct.size() * dim);
  std::vector<float> accumulators(distinct.size() * dim, 0.1f);
  for (size_t d = 0; d < distinct.size(); ++d) {
    const redisReply* row = reply->element[d];
    const redisReply* acc = reply->element[distinct.size() + d];
    if (row->len != row_bytes) Die("MGET: short row");
    std::memcpy(rows.data() + d * dim, row->str, row_bytes);
    if (acc->type != REDIS_REPLY_NIL) {
      if (acc->len != row_bytes) Die("MGET: short accumulator");
      std::memcpy(accumulators.data() + d * dim, acc->str, row_bytes);
    }
  }
  freeReplyObject(reply);
  for (size_t i = 0; i < rows.size(); ++i) {
    const float g = summed[i];
    accumulators[i] += g * g;
    rows[i] -= lr * g / std::sqrt(accumulators[i]);
  }
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
  pairs.reserve(2 * distinct.size());
  for (size_t d = 0; d < distinct.size(); ++d) {
    pairs.emplace_back(
        keys[d],
        absl::string_view(reinterpret_cast<const char*>(rows.data() + d * dim),
                          row_bytes));
    pairs.emplace_back(keys[distinct.size() + d],
                       absl::string_view(reinterpret_cast<const char*>(
                                             accumulators.data() + d * dim),
                                         row_bytes));
  }
  Mset(context, pairs);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void Run() {
  const int64_t rows = absl::GetFlag(FLAGS_rows);
  const int64_t dim = absl::GetFlag(FLAGS_dim);
  const int64_t per_call = absl::GetFlag(FLAGS_ids_per_call);
  const size_t row_bytes = dim * sizeof(float);
  Load(rows, dim);
  const std::vector<std::vector<int64_t>> batches =
      ZipfBatches(rows, per_call, absl::GetFlag(FLAGS_zipf_s));
  std::vector<std::vector<std::string>> keys(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    for (int64_t id : batches[b]) keys[b].push_back(RedisKey(id));
  }
  int64_t distinct = 0;
  for (const auto& batch : batches) {
    std::vector<int64_t> sorted = batch;
    std::sort(sorted.begin(), sorted.end());
    distinct += std::unique(sorted.begin(), sorted.end()) - sorted.begin();
  }
  std::printf(
      "table %lld x %lld float32, %lld Zipf(%.2f) ids per call (%.0f distinct "
      "on average), %d repeats of %.0f s, medians\n",
      static_cast<long long>(rows), static_cast<long long>(dim),
      static_cast<long long>(per_call), absl::GetFlag(FLAGS_zipf_s),
      static_cast<double>(distinct) / kBatches, absl::GetFlag(FLAGS_repeats),
      absl::GetFlag(FLAGS_seconds));
  std::printf("%-28s %14s %14s %8s\n", "case (rows/s)", "ps_server", "redis",
              "ratio");
  const auto ours = [&] {
    return [&, client =
                   std::shared_ptr<ParameterServerClient>(ConnectPs())](int i) {
      const std::vector<int64_t>& ids = batches[i % kBatches];
      auto gathered = client->GatherRows(kTable, ids);
      if (!gathered.ok()) Die(gathered.status().ToString());
      if (gathered->rows.size() != ids.size() * row_bytes) Die("short gather");
    };
  };
  const auto redis = [&] {
    auto context = std::shared_ptr<redisContext>(ConnectRedis(), redisFree);
    return [&, context](int i) {
      freeReplyObject(Mget(context.get(), keys[i % kBatches], row_bytes));
    };
  };
  for (const int clients : {1, 8}) {
    std::vector<double> ps_rates, redis_rates;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
      ps_rates.push_back(Measure(clients, ours) * per_call);
      redis_rates.push_back(Measure(clients, redis) * per_call);
    }
    const double ps_rate = Median(ps_rates), redis_rate = Median(redis_rates);
    std::printf(
        "%-28s %14.0f %14.0f %7.2fx\n",
        absl::StrCat("gather, ", clients, " client", clients > 1 ? "s" : "")
            .c_str(),
        ps_rate, redis_rate, ps_rate / redis_rate);
  }

  // Sparse Adagrad: a gradient row per id (duplicates included), applied on
  // the server by PushRows, by read-modify-write with Redis.
  const float lr = static_cast<float>(absl::GetFlag(FLAGS_learning_rate));
  std::vector<std::vector<float>> gradients(kBatches);
  {
    std::mt19937 random(3);
    std::normal_distribution<float> normal(0, 0.01f);
    for (std::vector<float>& g : gradients) {
      g.resize(per_call * dim);
      for (float& x : g) x = normal(random);
    }
  }
  const auto adagrad_push = [&] {
    return [&, client =
                   std::shared_ptr<ParameterServerClient>(ConnectPs())](int i) {
      const std::vector<float>& g = gradients[i % kBatches];
      RowUpdateSpec push;
      push.name = kTable;
      push.kind = UpdateKind::kApplyGradient;
      push.optimizer.kind = OptimizerKind::kAdagrad;
      push.optimizer.learning_rate = lr;
      push.ids = batches[i % kBatches];
      push.rows = absl::string_view(reinterpret_cast<const char*>(g.data()),
                                    g.size() * sizeof(float));
      if (auto info = client->PushRows(push); !info.ok()) {
        Die(info.status().ToString());
      }
    };
  };
  const auto redis_adagrad = [&] {
    auto context = std::shared_ptr<redisContext>(ConnectRedis(), redisFree);
    return [&, context](int i) {
      RedisAdagradStep(context.get(), batches[i % kBatches],
                       gradients[i % kBatches].data(), dim, lr);
    };
  };
  const double payload =
      static_cast<double>(per_call) * (sizeof(int64_t) + dim * sizeof(float));
  const double push_wire = BytesPerCall(adagrad_push);
  const double redis_push_wire = BytesPerCall(redis_adagrad);
  std::printf(
      "sparse Adagrad push: payload %.0f bytes (ids and gradient rows); on "
      "the wire per push ps_server %.0f (%.3fx payload), redis %.0f "
      "(%.2fx)\n",
      payload, push_wire, push_wire / payload, redis_push_wire,
      redis_push_wire / payload);
  std::printf("%-28s %14s %14s %8s\n", "case (rows/s)", "ps_server", "redis",
              "ratio");
  for (const int clients : {1, 8}) {
    std::vector<double> ps_rates, redis_rates;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
      ps_rates.push_back(Measure(clients, adagrad_push) * per_call);
      redis_rates.push_back(Measure(clients, redis_adagrad) * per_call);
    }
    const double ps_rate = Median(ps_rates), redis_rate = Median(redis_rates);
    std::printf("%-28s %14.0f %14.0f %7.2fx\n",
                absl::StrCat("Adagrad push, ", clients, " client",
                             clients > 1 ? "s" : "")
                    .c_str(),
                ps_rate, redis_rate, ps_rate / redis_rate);
  }

  // Pooled: the same ids as bags, one row per bag back from the server.
  const int64_t bag_size = absl::GetFlag(FLAGS_bag_size);
  if (bag_size <= 0) Die("--bag_size must be positive");
  std::vector<int64_t> offsets;
  for (int64_t k = 0; k < per_call; k += bag_size) offsets.push_back(k);
  const BagSpec bags{offsets, {}, Combiner::kMean};
  const auto pooled = [&] {
    return [&, client =
                   std::shared_ptr<ParameterServerClient>(ConnectPs())](int i) {
      const std::vector<int64_t>& ids = batches[i % kBatches];
      auto rows = client->LookupSparse(kTable, ids, bags);
      if (!rows.ok()) Die(rows.status().ToString());
      if (rows->rows.size() != offsets.size() * row_bytes) Die("short pool");
    };
  };
  const auto gather_and_pool = [&] {
    return [&, client =
                   std::shared_ptr<ParameterServerClient>(ConnectPs())](int i) {
      const std::vector<int64_t>& ids = batches[i % kBatches];
      auto gathered = client->GatherRows(kTable, ids);
      if (!gathered.ok()) Die(gathered.status().ToString());
      const char* rows = gathered->rows.data();
      const std::vector<float> out =
          PoolOnWorker([&](size_t k) { return rows + k * row_bytes; },
                       ids.size(), dim, offsets);
      if (out.size() != offsets.size() * dim) Die("short pool");
    };
  };
  const auto redis_and_pool = [&] {
    auto context = std::shared_ptr<redisContext>(ConnectRedis(), redisFree);
    return [&, context](int i) {
      const std::vector<std::string>& batch = keys[i % kBatches];
      redisReply* reply = Mget(context.get(), batch, row_bytes);
      const std::vector<float> out =
          PoolOnWorker([&](size_t k) { return reply->element[k]->str; },
                       batch.size(), dim, offsets);
      freeReplyObject(reply);
      if (out.size() != offsets.size() * dim) Die("short pool");
    };
  };
  const double pooled_wire = BytesPerCall(pooled);
  const double gather_wire = BytesPerCall(gather_and_pool);
  std::printf(
      "bags of %lld ids (mean; %lld bags per call): rows back %lld bytes "
      "pooled, %lld gathered; on the wire per call %.0f pooled, %.0f "
      "gathered (%.1fx less)\n",
      static_cast<long long>(bag_size), static_cast<long long>(offsets.size()),
      static_cast<long long>(offsets.size() * row_bytes),
      static_cast<long long>(per_call * row_bytes), pooled_wire, gather_wire,
      gather_wire / pooled_wire);
  std::printf("%-28s %14s %14s %14s %8s %8s\n", "case (ids/s)", "pooled",
              "gather+pool", "redis+pool", "vs ours", "vs redis");
  for (const int clients : {1, 8}) {
    std::vector<double> pooled_rates, gather_rates, redis_rates;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
      pooled_rates.push_back(Measure(clients, pooled) * per_call);
      gather_rates.push_back(Measure(clients, gather_and_pool) * per_call);
      redis_rates.push_back(Measure(clients, redis_and_pool) * per_call);
    }
    const double p = Median(pooled_rates), g = Median(gather_rates),
                 r = Median(redis_rates);
    std::printf(
        "%-28s %14.0f %14.0f %14.0f %7.2fx %7.2fx\n",
        absl::StrCat("pooled, ", clients, " client", clients > 1 ? "s" : "")
            .c_str(),
        p, g, r, p / g, p / r);
  }
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  paramserver::Run();
  return 0;
}
