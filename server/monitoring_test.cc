#include "server/monitoring.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "common/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http_endpoint.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class MonitoringTest : public ::testing::Test {
 protected:
  void Serve(const TokenTable* tokens,
             std::vector<std::string> allowed_hosts = {}) {
    monitoring_ =
        std::make_unique<Monitoring>(tokens, std::move(allowed_hosts));
    HttpEndpointOptions options;
    options.idle_timeout_seconds = 1;
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
        HttpEndpoint::Start(options, [this](const HttpRequest& request) {
          return monitoring_->Handle(request);
        });
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *std::move(endpoint);
  }

  HttpReply Get(const std::string& path, const std::string& token = "") {
    absl::StatusOr<HttpReply> reply = HttpGet(endpoint_->port(), path, token);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : HttpReply{};
  }

  std::unique_ptr<Monitoring> monitoring_;
  std::unique_ptr<HttpEndpoint> endpoint_;
};

TEST_F(MonitoringTest, ReadinessFollowsStartServeAndDrain) {
  Serve(nullptr);
  EXPECT_EQ(Get("/healthz").status, 200);
  HttpReply starting = Get("/readyz");
  EXPECT_EQ(starting.status, 503);
  EXPECT_THAT(starting.body, HasSubstr("starting"));
  absl::StatusOr<std::unique_ptr<VariableStore>> store =
      VariableStore::Create(StoreOptions());
  ASSERT_TRUE(store.ok());
  monitoring_->Serving({store->get(), nullptr, nullptr});
  EXPECT_EQ(Get("/readyz").status, 200);
  HttpReply metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.body, HasSubstr("\nps_variables 0\n"));
  EXPECT_THAT(metrics.body, HasSubstr("\nps_ready 1\n"));
  monitoring_->Draining();
  HttpReply draining = Get("/readyz");
  EXPECT_EQ(draining.status, 503);
  EXPECT_THAT(draining.body, HasSubstr("draining"));
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(MonitoringTest, BadRequestsGetPreciseAnswers) {
  Serve(nullptr);
  HttpReply missing = Get("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("/metrics"));
  absl::StatusOr<HttpReply> posted =
      SendHttp(endpoint_->port(),
               "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               "Content-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(posted.ok()) << posted.status();
  EXPECT_EQ(posted->status, 405);
  EXPECT_THAT(posted->headers, HasSubstr("Allow: GET, HEAD"));
  absl::StatusOr<HttpReply> huge = SendHttp(
      endpoint_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                             std::string(100 << 10, 'a') + "\r\n\r\n");
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->status, 431);
  absl::StatusOr<HttpReply> garbage =
      SendHttp(endpoint_->port(), "NOT HTTP AT ALL\r\n\r\n");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_EQ(garbage->status, 400);
  // HEAD: the length of what GET would send, and no body.
  absl::StatusOr<HttpReply> head = SendHttp(
      endpoint_->port(),
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_THAT(head->headers, HasSubstr("Content-Length: 3"));
  EXPECT_EQ(head->body, "");
  // And it still serves.
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(MonitoringTest, SlowClientsAreCutOffAndDoNotBlockOthers) {
  Serve(nullptr);
  // A client that sends half a request and then nothing.
  const int slow = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(endpoint_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(
      connect(slow, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(slow, half.data(), half.size(), 0),
            static_cast<ssize_t>(half.size()));
  EXPECT_EQ(Get("/healthz").status, 200);  // Served meanwhile.
  // Closed by the server after the 1 s idle limit: recv sees the end.
  timeval timeout{10, 0};
  setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char byte;
  EXPECT_EQ(recv(slow, &byte, 1, 0), 0);
  close(slow);
}

TEST_F(MonitoringTest, MetricsNeedAReaderTokenThatReachesEveryName) {
  absl::StatusOr<TokenTable> tokens =
      TokenTable::Parse("reader-token reader\ntower0-token writer tower0\n");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  Serve(&*tokens);
  HttpReply none = Get("/metrics");
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.headers, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_EQ(Get("/metrics", "wrong-token").status, 401);
  HttpReply confined = Get("/metrics", "tower0-token");
  EXPECT_EQ(confined.status, 403);
  EXPECT_THAT(confined.body, HasSubstr("tower0"));
  EXPECT_EQ(Get("/metrics", "reader-token").status, 200);
  // The probes need no token (the kubelet has none).
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/readyz").status, 503);
  // Refusals are counted, by path and code.
  EXPECT_THAT(Get("/metrics", "reader-token").body,
              HasSubstr("ps_http_requests_total{path=\"/metrics\",code=\"401\"}"
                        " 2\n"));
}

TEST_F(MonitoringTest, AnswersOnlyHostsItKnowsSoRebindingFails) {
  Serve(nullptr, {"ps-0.ps"});
  const auto get = [&](const std::string& path, const std::string& host) {
    absl::StatusOr<HttpReply> reply = SendHttp(
        endpoint_->port(), "GET " + path + " HTTP/1.1\r\nHost: " + host +
                               "\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : HttpReply{};
  };
  // A page at evil.example whose name now points here.
  HttpReply rebound = get("/api/stats", "evil.example:8080");
  EXPECT_EQ(rebound.status, 403);
  EXPECT_THAT(rebound.body, HasSubstr("Host 'evil.example' is not a name"));
  EXPECT_EQ(get("/", "evil.example").status, 403);
  EXPECT_EQ(get("/metrics", "evil.example").status, 403);
  // Probes answer any Host (the kubelet's is the pod's address).
  EXPECT_EQ(get("/healthz", "evil.example").status, 200);
  for (const char* host :
       {"127.0.0.1:9", "localhost", "[::1]:80", "10.1.2.3", "ps-0.ps:8080"}) {
    EXPECT_EQ(get("/", host).status, 200) << host;
  }
}

TEST(HttpEndpointTest, RefusesAnAddressThatIsNotAnIp) {
  HttpEndpointOptions options;
  options.address = "localhost";
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint = HttpEndpoint::Start(
      options, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_TRUE(absl::IsInvalidArgument(endpoint.status())) << endpoint.status();
}

TEST(HttpEndpointTest, APortInUseIsUnavailable) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> first = HttpEndpoint::Start(
      HttpEndpointOptions(), [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(first.ok()) << first.status();
  HttpEndpointOptions options;
  options.port = (*first)->port();
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> second = HttpEndpoint::Start(
      options, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
}

}  // namespace
}  // namespace paramserver
