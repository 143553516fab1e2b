// The real ps_server with --http_port: Prometheus metrics that count every
// call exactly, probes, and an HTTP side whose bad clients never disturb
// the gRPC side.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "client/client.h"
#include "common/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/http_scrape.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class MetricsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start({"--http_port=0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    http_port_ = HttpPortOf(*server_);
    ASSERT_GT(http_port_, 0) << server_->Log();
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(server_->target());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::string Metrics() {
    absl::StatusOr<HttpReply> reply = HttpGet(http_port_, "/metrics");
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return "";
    EXPECT_EQ(reply->status, 200) << reply->body;
    return "\n" + reply->body;
  }

  void MakeVariable(const std::string& name, int64_t elements) {
    VariableRequest request;
    request.scope = "metrics";
    request.name = name;
    request.reuse = ReuseMode::kAutoReuse;
    request.shape = TensorShape{elements};
    ASSERT_TRUE(client_->GetVariable(request).ok());
  }

  std::unique_ptr<ServerProcess> server_;
  int http_port_ = -1;
  std::unique_ptr<ParameterServerClient> client_;
};

constexpr char kPullOk[] =
    "grpc_server_handled_total{grpc_service=\"paramserver.rpc."
    "ParameterServer\",grpc_method=\"Pull\",grpc_code=\"OK\"}";
constexpr char kPullNotFound[] =
    "grpc_server_handled_total{grpc_service=\"paramserver.rpc."
    "ParameterServer\",grpc_method=\"Pull\",grpc_code=\"NotFound\"}";
constexpr char kPullSeconds[] =
    "grpc_server_handling_seconds_count{grpc_service=\"paramserver.rpc."
    "ParameterServer\",grpc_method=\"Pull\"}";

TEST_F(MetricsE2ETest, AfterNPullsThePullCounterRoseByExactlyN) {
  MakeVariable("w", 1000);
  const std::string before = Metrics();
  ASSERT_GE(Sample(before, kPullOk), 0) << before;
  constexpr int kPulls = 37;
  for (int i = 0; i < kPulls; ++i) {
    ASSERT_TRUE(client_->Pull({{"metrics/w", 0}}).ok());
  }
  EXPECT_FALSE(client_->Pull({{"metrics/missing", 0}}).ok());
  const std::string after = Metrics();
  EXPECT_EQ(Sample(after, kPullOk) - Sample(before, kPullOk), kPulls);
  EXPECT_EQ(Sample(after, kPullNotFound), 1) << after;
  EXPECT_EQ(Sample(after, kPullSeconds) - Sample(before, kPullSeconds),
            kPulls + 1);
  // 37 responses of 4,000 value bytes each, at least.
  const std::string sent =
      "grpc_server_msg_sent_bytes_total{grpc_service=\"paramserver.rpc."
      "ParameterServer\",grpc_method=\"Pull\"}";
  EXPECT_GE(Sample(after, sent) - Sample(before, sent), kPulls * 4000);
}

TEST_F(MetricsE2ETest, ReportsTheVariablesAndMemoryHeld) {
  MakeVariable("a", 1000);
  MakeVariable("b", 24);
  const std::string metrics = Metrics();
  EXPECT_EQ(Sample(metrics, "ps_variables"), 2);
  EXPECT_EQ(Sample(metrics, "ps_variable_bytes"), 4096);
  EXPECT_EQ(Sample(metrics, "ps_max_total_bytes"), double{16} * (1 << 30));
  EXPECT_GT(Sample(metrics, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_EQ(Sample(metrics, "ps_ready"), 1);
  absl::StatusOr<HttpReply> ready = HttpGet(http_port_, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
}

TEST_F(MetricsE2ETest, HostileHttpClientsDoNotDisturbTheGrpcSide) {
  MakeVariable("w", 16);
  // More idle connections than the HTTP side accepts, each half a request.
  std::vector<int> sockets;
  for (int i = 0; i < 100; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(http_port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
        0) {
      send(fd, "GET /metr", 9, MSG_NOSIGNAL);
    }
    sockets.push_back(fd);
  }
  absl::StatusOr<HttpReply> huge = SendHttp(
      http_port_,
      "GET /metrics HTTP/1.1\r\nX: " + std::string(1 << 20, 'x') + "\r\n\r\n");
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client_->Pull({{"metrics/w", 0}}).ok());
  }
  for (int fd : sockets) close(fd);
  // Once they are gone, the HTTP side serves again.
  absl::StatusOr<HttpReply> healthy;
  for (int attempt = 0; attempt < 50; ++attempt) {
    healthy = HttpGet(http_port_, "/healthz");
    if (healthy.ok() && healthy->status == 200) break;
    usleep(100 * 1000);
  }
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  EXPECT_EQ(healthy->status, 200);
  EXPECT_THAT(server_->Log(), HasSubstr("HTTP on 127.0.0.1:"));
}

TEST_F(MetricsE2ETest, ReportsBytesPerTopLevelScope) {
  MakeVariable("w", 100);  // metrics/w
  VariableRequest other;
  other.scope = "tower0/layer";
  other.name = "b";
  other.reuse = ReuseMode::kAutoReuse;
  other.shape = TensorShape{10};
  ASSERT_TRUE(client_->GetVariable(other).ok());
  const std::string metrics = Metrics();
  EXPECT_EQ(Sample(metrics, "ps_scope_variable_bytes{scope=\"metrics\"}"), 400);
  EXPECT_EQ(Sample(metrics, "ps_scope_variable_bytes{scope=\"tower0\"}"), 40);
  EXPECT_EQ(Sample(metrics, "ps_scope_variables{scope=\"tower0\"}"), 1);
}

// With a data directory: the write-ahead log's appends and fsyncs, and
// checkpoints, as they happen.
TEST(MetricsDurabilityE2ETest, CountsLogAppendsFsyncsAndCheckpoints) {
  const std::string data_dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/metrics_data";
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      {"--http_port=0", "--data_dir=" + data_dir, "--initialize_data_dir",
       "--wal_fsync=always", "--checkpoint_interval_seconds=0"});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = HttpPortOf(**server);
  ASSERT_GT(port, 0);
  auto metrics = [port] {
    absl::StatusOr<HttpReply> reply = HttpGet(port, "/metrics");
    EXPECT_TRUE(reply.ok() && reply->status == 200);
    return reply.ok() ? "\n" + reply->body : std::string();
  };
  absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
      ParameterServerClient::Connect((*server)->target());
  ASSERT_TRUE(client.ok()) << client.status();
  VariableRequest request;
  request.scope = "d";
  request.name = "v";
  request.reuse = ReuseMode::kAutoReuse;
  request.shape = TensorShape{256};
  ASSERT_TRUE((*client)->GetVariable(request).ok());
  const std::string before = metrics();
  EXPECT_EQ(Sample(before, "ps_checkpoints_total{result=\"ok\"}"), 0);
  EXPECT_THAT(before,
              ::testing::Not(HasSubstr("ps_checkpoint_last_duration_seconds")));
  constexpr int kPushes = 5;
  const std::string zeros(1024, '\0');  // The update views it.
  PushSpec push;
  push.updates = {{"d/v", UpdateKind::kAssignAdd, zeros, std::nullopt}};
  for (int i = 0; i < kPushes; ++i) {
    push.push_id.clear();
    ASSERT_TRUE((*client)->Push(push).ok());
  }
  const std::string after = metrics();
  EXPECT_EQ(Sample(after, "ps_wal_records_total") -
                Sample(before, "ps_wal_records_total"),
            kPushes);
  // Each record holds the 1,024 value bytes and more.
  EXPECT_GT(Sample(after, "ps_wal_bytes_total") -
                Sample(before, "ps_wal_bytes_total"),
            kPushes * 1024);
  // --wal_fsync=always: each acknowledged push was fsynced.
  EXPECT_GE(Sample(after, "ps_wal_fsync_seconds_count") -
                Sample(before, "ps_wal_fsync_seconds_count"),
            kPushes);
  const CommandResult saved =
      RunCommand({PsctlBinary(), "--server=" + (*server)->target(), "save"});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  const std::string checkpointed = metrics();
  EXPECT_EQ(Sample(checkpointed, "ps_checkpoints_total{result=\"ok\"}"), 1);
  EXPECT_EQ(Sample(checkpointed, "ps_checkpoint_last_value_bytes"), 1024);
  EXPECT_GE(Sample(checkpointed, "ps_checkpoint_last_duration_seconds"), 0);
  EXPECT_GT(Sample(checkpointed, "ps_checkpoint_last_timestamp_seconds"),
            Sample(checkpointed, "process_start_time_seconds") - 1);
}

TEST(MetricsFlagsE2ETest, PlaintextHttpOffLoopbackNeedsInsecure) {
  const CommandResult refused = RunCommand(
      {ServerBinary(), "--port=0", "--http_port=0", "--http_address=0.0.0.0"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--insecure"));
  const CommandResult not_ip =
      RunCommand({ServerBinary(), "--port=0", "--http_port=0",
                  "--http_address=nowhere", "--insecure"});
  EXPECT_EQ(not_ip.exit_code, 2);
  EXPECT_THAT(not_ip.err, HasSubstr("must be an IP address"));
}

TEST(MetricsFlagsE2ETest, WithoutHttpPortNoHttpIsServed) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->Log(), ::testing::Not(HasSubstr("HTTP on")));
}

}  // namespace
}  // namespace paramserver
