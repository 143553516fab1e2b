// Data-plane throughput of a running ps_server against Redis, measured in the
// same run on the same machine: pulls of large values, small GetVariable
// calls under concurrency, and SGD pushes. Prints a table with the ratios.
//
//   data_plane_benchmark --server=127.0.0.1:PORT --redis_port=PORT
//
// benchmarks/run_data_plane_benchmark.sh starts both servers and runs this.

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
ABSL_FLAG(std::string, client_role, "",
          "Internal: run as one small-call client process against `ps` or "
          "`redis`, starting at --start_at_ms, and print the calls made.");
ABSL_FLAG(int64_t, start_at_ms, 0, "Internal: Unix time in ms to start at.");
ABSL_FLAG(
    int, server_pid, 0,
    "ps_server's process id, to report its CPU time per call (optional).");
ABSL_FLAG(
    int, redis_pid, 0,
    "redis-server's process id, to report its CPU time per call (optional).");

extern char** environ;

namespace paramserver {
namespace {

// Runs `op` on `threads` threads until the time is up; returns ops/second.
double Measure(int threads,
               const std::function<std::function<bool()>()>& make_op) {
  std::vector<std::function<bool()>> ops;
  for (int i = 0; i < threads; ++i) ops.push_back(make_op());
  for (auto& op : ops) op();  // Warm up connections and caches.
  std::atomic<int64_t> count{0};
  std::atomic<bool> failed{false};
  const absl::Time end =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
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
  redisContext* redis =
      redisConnect("127.0.0.1", absl::GetFlag(FLAGS_redis_port));
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
  freeReplyObject(redisCommand(redis, "SET %s %b", key.c_str(), value.data(),
                               value.size()));
  redisFree(redis);
}

std::function<bool()> RedisGet(const std::string& key, size_t expected) {
  auto redis = std::shared_ptr<redisContext>(ConnectRedis(), redisFree);
  return [redis, key, expected] {
    auto* reply = static_cast<redisReply*>(
        redisCommand(redis.get(), "GET %s", key.c_str()));
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

// CPU time a process has used so far (all its threads), or a negative
// duration when it cannot be read.
absl::Duration ProcessCpuTime(int pid) {
  std::FILE* file =
      std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (file == nullptr) return absl::Seconds(-1);
  char buffer[1024];
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  buffer[n] = '\0';
  // Fields after the command name (which may hold spaces): utime and stime
  // are the 12th and 13th after its closing parenthesis.
  const char* rest = std::strrchr(buffer, ')');
  if (rest == nullptr) return absl::Seconds(-1);
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(rest + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2) {
    return absl::Seconds(-1);
  }
  return absl::Seconds(static_cast<double>(utime + stime) /
                       sysconf(_SC_CLK_TCK));
}

absl::Duration OwnCpuTime() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

struct ProcessMeasurement {
  double calls_per_second = 0;
  double client_cpu_us_per_call = 0;   // All client processes together.
  double server_cpu_us_per_call = -1;  // Negative when not known.
};

// Runs `clients` copies of this program as separate client processes, each
// one calling in a loop for the measuring time from a common start; sums
// their calls and CPU time, and reads the server's CPU time (`server_pid`)
// over the same window.
ProcessMeasurement MeasureProcesses(int clients, const std::string& role,
                                    int server_pid) {
  const double seconds = absl::GetFlag(FLAGS_seconds);
  // Time for all of them to start and connect first; a child that starts
  // measuring late says so and fails the run.
  const absl::Time start = absl::Now() + absl::Seconds(2);
  std::vector<std::pair<pid_t, int>> children;
  for (int i = 0; i < clients; ++i) {
    int out[2];
    // Close-on-exec, so a child does not hold the read ends of its siblings.
    if (pipe2(out, O_CLOEXEC) != 0) std::exit(1);
    std::vector<std::string> args = {
        "/proc/self/exe",
        "--server=" + absl::GetFlag(FLAGS_server),
        "--redis_port=" + std::to_string(absl::GetFlag(FLAGS_redis_port)),
        "--seconds=" + std::to_string(seconds),
        "--client_role=" + role,
        "--start_at_ms=" + std::to_string(absl::ToUnixMillis(start))};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(),
                    environ) != 0) {
      std::fprintf(stderr, "cannot start a client process\n");
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    children.emplace_back(pid, out[0]);
  }
  absl::SleepFor(start - absl::Now());
  const absl::Duration server_before =
      server_pid > 0 ? ProcessCpuTime(server_pid) : absl::Seconds(-1);
  absl::SleepFor(absl::Seconds(seconds));
  const absl::Duration server_after =
      server_pid > 0 ? ProcessCpuTime(server_pid) : absl::Seconds(-1);
  int64_t calls = 0;
  double client_cpu_us = 0;
  bool failed = false;
  for (auto [pid, fd] : children) {
    std::string printed;
    char buffer[64];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;)
      printed.append(buffer, n);
    close(fd);
    int wait_status;
    waitpid(pid, &wait_status, 0);
    long long child_calls = 0;
    double child_cpu_us = 0;
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0 ||
        std::sscanf(printed.c_str(), "%lld %lf", &child_calls, &child_cpu_us) !=
            2) {
      failed = true;
    }
    calls += child_calls;
    client_cpu_us += child_cpu_us;
  }
  if (failed || calls == 0) {
    std::fprintf(stderr, "a %s client process failed\n", role.c_str());
    std::exit(1);
  }
  ProcessMeasurement result;
  result.calls_per_second = calls / seconds;
  result.client_cpu_us_per_call = client_cpu_us / calls;
  if (server_before >= absl::ZeroDuration() &&
      server_after >= absl::ZeroDuration()) {
    result.server_cpu_us_per_call =
        absl::ToDoubleMicroseconds(server_after - server_before) / calls;
  }
  return result;
}

// One client process of MeasureProcesses: prints its calls and the CPU time
// (microseconds, all its threads) it used while measuring.
int RunClientProcess(const std::string& role) {
  std::function<bool()> op =
      role == "ps" ? PsGetMetadata("bench/small") : RedisGet("bench/small", 64);
  if (!op()) return 1;  // Warm up the connection.
  const absl::Time start =
      absl::FromUnixMillis(absl::GetFlag(FLAGS_start_at_ms));
  if (absl::Now() > start + absl::Milliseconds(50)) {
    std::fprintf(stderr, "client process ready %s after the common start\n",
                 absl::FormatDuration(absl::Now() - start).c_str());
    return 1;
  }
  absl::SleepFor(start - absl::Now());
  const absl::Time end = start + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const absl::Duration cpu_before = OwnCpuTime();
  int64_t count = 0;
  while (absl::Now() < end) {
    if (!op()) return 1;
    ++count;
  }
  std::printf("%lld %.0f\n", static_cast<long long>(count),
              absl::ToDoubleMicroseconds(OwnCpuTime() - cpu_before));
  return 0;
}

void Row(const char* what, const char* unit, double ours, double redis) {
  if (redis > 0) {
    std::printf("%-34s %12.3f %12.3f %8.2fx  %s\n", what, ours, redis,
                ours / redis, unit);
  } else {
    std::printf("%-34s %12.3f %12s %9s  %s\n", what, ours, "-", "-", unit);
  }
}

void PullRows() {
  for (auto [label, bytes] :
       {std::pair<const char*, size_t>{"pull 1 MB (GB/s)", 1 << 20},
        {"pull 64 MB (GB/s)", 64 << 20}}) {
    const std::string name = "bench/pull_" + std::to_string(bytes);
    CreateVariable(*Connect(), name, bytes / 4);
    SetRedisKey(name, bytes);
    const double ours =
        Measure(1, [&] { return PsPull(name, bytes); }) * bytes / 1e9;
    const double redis =
        Measure(1, [&] { return RedisGet(name, bytes); }) * bytes / 1e9;
    Row(label, "GB/s", ours, redis);
  }
}

void SmallCallRows() {
  CreateVariable(*Connect(), "bench/small", 16);  // 64 bytes.
  SetRedisKey("bench/small", 64);
  for (int clients : {1, 16}) {
    const double ours =
        Measure(clients, [] { return PsGetMetadata("bench/small"); });
    const double redis =
        Measure(clients, [] { return RedisGet("bench/small", 64); });
    const std::string label =
        "GetVariable, " + std::to_string(clients) + " client(s) (calls/s)";
    Row(label.c_str(), "calls/s", ours, redis);
  }
  // The same with each client in its own process, as separate workers are;
  // with the CPU each side spends per call, which bounds the rate once the
  // machine's cores are all busy.
  const ProcessMeasurement ours =
      MeasureProcesses(16, "ps", absl::GetFlag(FLAGS_server_pid));
  const ProcessMeasurement redis =
      MeasureProcesses(16, "redis", absl::GetFlag(FLAGS_redis_pid));
  Row("GetVariable, 16 processes (calls/s)", "calls/s", ours.calls_per_second,
      redis.calls_per_second);
  Row("  client CPU per call (us)", "us", ours.client_cpu_us_per_call,
      redis.client_cpu_us_per_call);
  if (ours.server_cpu_us_per_call >= 0 && redis.server_cpu_us_per_call >= 0) {
    Row("  server CPU per call (us)", "us", ours.server_cpu_us_per_call,
        redis.server_cpu_us_per_call);
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
      push.updates = {
          {"bench/push", UpdateKind::kApplyGradient, gradient, std::nullopt}};
      return client->Push(push).ok();
    };
  });
  Row("push SGD 64 MB (GB/s)", "GB/s", ours * kBytes / 1e9, 0);
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (const std::string role = absl::GetFlag(FLAGS_client_role);
      !role.empty()) {
    return paramserver::RunClientProcess(role);
  }
  std::printf("%-34s %12s %12s %9s\n", "case", "ps_server", "redis", "ratio");
  const std::string cases = absl::GetFlag(FLAGS_cases);
  if (absl::StrContains(cases, "pull")) paramserver::PullRows();
  if (absl::StrContains(cases, "small")) paramserver::SmallCallRows();
  if (absl::StrContains(cases, "push")) paramserver::PushRow();
  return 0;
}
