// Data-plane throughput of a running ps_server against Redis, measured in the
// same run on the same machine: pulls of large values, small GetVariable
// calls under concurrency, and SGD pushes. Prints a table with the ratios.
//
//   data_plane_benchmark --server=127.0.0.1:PORT --redis_port=PORT
//
// benchmarks/run_data_plane_benchmark.sh starts both servers and runs this.

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "ps_server HOST:PORT.");
ABSL_FLAG(int, redis_port, 6379, "Redis port on 127.0.0.1.");
ABSL_FLAG(double, seconds, 3, "Measuring time per case.");
ABSL_FLAG(std::string, cases, "pull,small,push",
          "Comma-separated groups of cases to run: pull, small, push.");

namespace paramserver {
namespace {

// Runs `op` on `threads` threads until the time is up; returns ops/second.
double Measure(int threads, const std::function<std::function<bool()>()>& make_op) {
  std::vector<std::function<bool()>> ops;
  for (int i = 0; i < threads; ++i) ops.push_back(make_op());
  for (auto& op : ops) op();  // Warm up connections and caches.
  std::atomic<int64_t> count{0};
  std::atomic<bool> failed{false};
  const absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      int64_t mine = 0;
      while (absl::Now() < end) {
        if (!ops[i]()) {
          failed = true;
          break;
        }
        ++mine;
      }
      count += mine;
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failed) {
    std::fprintf(stderr, "an operation failed\n");
    std::exit(1);
  }
  return count / absl::ToDoubleSeconds(absl::Now() - start);
}

std::unique_ptr<ParameterServerClient> Connect() {
  auto client = ParameterServerClient::Connect(absl::GetFlag(FLAGS_server));
  if (!client.ok()) std::exit(1);
  return *std::move(client);
}

redisContext* ConnectRedis() {
  redisContext* redis = redisConnect("127.0.0.1", absl::GetFlag(FLAGS_redis_port));
  if (redis == nullptr || redis->err) {
    std::fprintf(stderr, "cannot connect to redis\n");
    std::exit(1);
  }
  return redis;
}

void CreateVariable(ParameterServerClient& client, const std::string& name,
                    int64_t elements) {
  VariableRequest request;
  request.name = name;
  request.reuse = ReuseMode::kAutoReuse;
  request.shape = TensorShape{elements};
  request.initializer.kind = InitializerKind::kRandomUniform;
  request.initializer.seed = 1;
  absl::Status status = client.GetVariable(request).status();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

void SetRedisKey(const std::string& key, size_t bytes) {
  redisContext* redis = ConnectRedis();
  std::string value(bytes, 'x');
  freeReplyObject(redisCommand(redis, "SET %s %b", key.c_str(), value.data(), value.size()));
  redisFree(redis);
}

std::function<bool()> RedisGet(const std::string& key, size_t expected) {
  auto redis = std::shared_ptr<redisContext>(ConnectRedis(), redisFree);
  return [redis, key, expected] {
    auto* reply = static_cast<redisReply*>(redisCommand(redis.get(), "GET %s", key.c_str()));
    const bool ok = reply != nullptr && reply->type == REDIS_REPLY_STRING &&
                    static_cast<size_t>(reply->len) == expected;
    freeReplyObject(reply);
    return ok;
  };
}

std::function<bool()> PsPull(const std::string& name, size_t expected) {
  auto client = std::shared_ptr<ParameterServerClient>(Connect());
  return [client, name, expected] {
    auto pulled = client->Pull({{name, 0}});
    return pulled.ok() && (*pulled)[0].value.size() == expected;
  };
}

std::function<bool()> PsGetMetadata(const std::string& name) {
  auto client = std::shared_ptr<ParameterServerClient>(Connect());
  VariableRequest request;
  request.name = name;
  request.reuse = ReuseMode::kReuse;
  return [client, request] { return client->GetVariable(request).ok(); };
}

void Row(const char* what, const char* unit, double ours, double redis) {
  if (redis > 0) {
    std::printf("%-34s %12.3f %12.3f %8.2fx  %s\n", what, ours, redis, ours / redis, unit);
  } else {
    std::printf("%-34s %12.3f %12s %9s  %s\n", what, ours, "-", "-", unit);
  }
}

void PullRows() {
  for (auto [label, bytes] : {std::pair<const char*, size_t>{"pull 1 MB (GB/s)", 1 << 20},
                              {"pull 64 MB (GB/s)", 64 << 20}}) {
    const std::string name = "bench/pull_" + std::to_string(bytes);
    CreateVariable(*Connect(), name, bytes / 4);
    SetRedisKey(name, bytes);
    const double ours = Measure(1, [&] { return PsPull(name, bytes); }) * bytes / 1e9;
    const double redis = Measure(1, [&] { return RedisGet(name, bytes); }) * bytes / 1e9;
    Row(label, "GB/s", ours, redis);
  }
}

void SmallCallRows() {
  CreateVariable(*Connect(), "bench/small", 16);  // 64 bytes.
  SetRedisKey("bench/small", 64);
  for (int clients : {1, 16}) {
    const double ours = Measure(clients, [] { return PsGetMetadata("bench/small"); });
    const double redis = Measure(clients, [] { return RedisGet("bench/small", 64); });
    const std::string label =
        "GetVariable, " + std::to_string(clients) + " client(s) (calls/s)";
    Row(label.c_str(), "calls/s", ours, redis);
  }
}

void PushRow() {
  constexpr size_t kBytes = 64 << 20;
  CreateVariable(*Connect(), "bench/push", kBytes / 4);
  const std::string gradient(kBytes, '\0');
  const double ours = Measure(1, [&] {
    auto client = std::shared_ptr<ParameterServerClient>(Connect());
    return [client, &gradient] {
      PushSpec push;
      push.updates = {{"bench/push", UpdateKind::kApplyGradient, gradient, std::nullopt}};
      return client->Push(push).ok();
    };
  });
  Row("push SGD 64 MB (GB/s)", "GB/s", ours * kBytes / 1e9, 0);
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::printf("%-34s %12s %12s %9s\n", "case", "ps_server", "redis", "ratio");
  const std::string cases = absl::GetFlag(FLAGS_cases);
  if (absl::StrContains(cases, "pull")) paramserver::PullRows();
  if (absl::StrContains(cases, "small")) paramserver::SmallCallRows();
  if (absl::StrContains(cases, "push")) paramserver::PushRow();
  return 0;
}
