// The real ps_server's operator view (--http_port): optimizer steps, stale
// pushes, bytes received and open sessions counted exactly in /metrics; the
// scope tree and variable details the page reads (/api/scope,
// /api/variable) matching the server's variables; and tokens confining a
// reader to its prefixes there too.

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "common/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/http_scrape.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class OperatorViewTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags, const std::string& token = "") {
    flags.push_back("--http_port=0");
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start(flags);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    http_port_ = HttpPortOf(*server_);
    ASSERT_GT(http_port_, 0) << server_->Log();
    ClientOptions options;
    options.token = token;
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(server_->target(), options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  HttpReply Get(const std::string& path, const std::string& token = "") {
    absl::StatusOr<HttpReply> reply = HttpGet(http_port_, path, token);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : HttpReply{};
  }

  std::string Metrics(const std::string& token = "") {
    HttpReply reply = Get("/metrics", token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return "\n" + reply.body;
  }

  int64_t Make(const std::string& scope, const std::string& name,
               int64_t elements) {
    VariableRequest request;
    request.scope = scope;
    request.name = name;
    request.reuse = ReuseMode::kAutoReuse;
    request.shape = TensorShape{elements};
    absl::StatusOr<FetchedVariable> made = client_->GetVariable(request);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->info.version : -1;
  }

  std::unique_ptr<ServerProcess> server_;
  int http_port_ = -1;
  std::unique_ptr<ParameterServerClient> client_;
};

TEST_F(OperatorViewTest, CountsOptimizerStepsStalePushesAndBytesExactly) {
  Start({});
  Make("m", "a", 1000);
  Make("m", "b", 1000);
  const std::string gradient(4000, '\0');
  const std::string before = Metrics();
  constexpr int kPushes = 7;
  for (int i = 0; i < kPushes; ++i) {
    PushSpec push;
    push.updates = {{"m/a", UpdateKind::kApplyGradient, gradient, {}},
                    {"m/b", UpdateKind::kApplyGradient, gradient, {}}};
    ASSERT_TRUE(client_->Push(push).ok());
  }
  PushSpec momentum;
  momentum.optimizer.kind = OptimizerKind::kMomentum;
  momentum.updates = {{"m/a", UpdateKind::kApplyGradient, gradient, {}}};
  ASSERT_TRUE(client_->Push(momentum).ok());
  // Assignments are not optimizer steps.
  PushSpec assign;
  assign.updates = {{"m/b", UpdateKind::kAssign, gradient, {}}};
  ASSERT_TRUE(client_->Push(assign).ok());
  // m/a is now at version 1 + 7 + 1: a push based on version 1 with
  // max_staleness 2 is refused, and nothing of it is applied.
  PushSpec stale;
  stale.max_staleness = 2;
  stale.updates = {{"m/a", UpdateKind::kApplyGradient, gradient, 1}};
  EXPECT_TRUE(absl::IsAborted(client_->Push(stale).status()));
  const std::string after = Metrics();
  const auto delta = [&](const std::string& series) {
    return Sample(after, series) - Sample(before, series);
  };
  EXPECT_EQ(delta("ps_optimizer_steps_total{optimizer=\"sgd\"}"), 2 * kPushes)
      << after;
  EXPECT_EQ(delta("ps_optimizer_steps_total{optimizer=\"momentum\"}"), 1);
  EXPECT_EQ(delta("ps_optimizer_steps_total{optimizer=\"adam\"}"), 0);
  EXPECT_EQ(delta("ps_stale_pushes_rejected_total"), 1);
  // Every push carried at least its gradients' bytes.
  const std::string received =
      "grpc_server_msg_received_bytes_total{grpc_service=\"paramserver.rpc."
      "ParameterServer\",grpc_method=\"Push\"}";
  EXPECT_GE(delta(received), (2 * kPushes + 3) * 4000.0) << after;
  EXPECT_LT(delta(received), (2 * kPushes + 3) * 4000.0 + 64 * 1024);
}

TEST_F(OperatorViewTest, ScopeTreeAndVariableDetailsMatchTheServer) {
  Start({});
  Make("net/conv1", "weights", 600);
  Make("net/conv1", "biases", 6);
  Make("net/conv2", "weights", 60);
  Make("head", "w", 10);
  PushSpec momentum;
  momentum.optimizer.kind = OptimizerKind::kMomentum;
  const std::string gradient(2400, '\0');
  momentum.updates = {
      {"net/conv1/weights", UpdateKind::kApplyGradient, gradient, {}}};
  ASSERT_TRUE(client_->Push(momentum).ok());

  HttpReply root = Get("/api/scope?name=");
  ASSERT_EQ(root.status, 200) << root.body;
  EXPECT_THAT(root.headers, HasSubstr("application/json"));
  // Four variables (the slot is not one of them), 2,704 bytes of values
  // and 2,400 of the momentum slot.
  EXPECT_THAT(root.body, HasSubstr("\"scope\":\"\",\"variables\":4,"
                                   "\"bytes\":5104,"));
  EXPECT_THAT(root.body, HasSubstr("{\"kind\":\"scope\",\"name\":\"head\","
                                   "\"variables\":1,\"bytes\":40,"));
  EXPECT_THAT(root.body, HasSubstr("{\"kind\":\"scope\",\"name\":\"net\","
                                   "\"variables\":3,\"bytes\":5064,"));

  HttpReply conv1 = Get("/api/scope?name=net/conv1");
  ASSERT_EQ(conv1.status, 200) << conv1.body;
  EXPECT_THAT(conv1.body,
              HasSubstr("\"name\":\"net/conv1/weights\",\"shape\":[600],"
                        "\"dtype\":\"float32\",\"bytes\":2400,\"version\":2,"));
  EXPECT_THAT(conv1.body, HasSubstr("\"slots\":1,\"slot_bytes\":2400}"));
  EXPECT_THAT(conv1.body, Not(HasSubstr("Momentum\"")));

  HttpReply weights = Get("/api/variable?name=net/conv1/weights");
  ASSERT_EQ(weights.status, 200) << weights.body;
  EXPECT_THAT(weights.body, HasSubstr("\"version\":2,\"trainable\":true"));
  EXPECT_THAT(weights.body,
              HasSubstr("\"slots\":[{\"name\":\"net/conv1/weights/Momentum\""));
  // Glorot-uniform values (TensorFlow's default initializer): the buckets
  // hold every one of the 600 elements.
  EXPECT_THAT(weights.body, HasSubstr("\"elements\":600,\"stride\":1,"
                                      "\"sampled\":600,\"nonfinite\":0,"));
  int64_t counted = 0;
  int buckets = 0;
  const std::regex count_field("\"count\":([0-9]+)\\}");
  for (std::sregex_iterator it(weights.body.begin(), weights.body.end(),
                               count_field);
       it != std::sregex_iterator(); ++it) {
    counted += std::stoll((*it)[1]);
    ++buckets;
  }
  EXPECT_EQ(buckets, 30);
  EXPECT_EQ(counted, 600);

  HttpReply missing = Get("/api/variable?name=net/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("net/nope does not exist"));
  EXPECT_EQ(Get("/api/variable").status, 400);
  EXPECT_EQ(Get("/api/scope?name=bad//scope").status, 400);

  HttpReply page = Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.headers, HasSubstr("text/html"));
  EXPECT_THAT(page.headers, HasSubstr("Content-Security-Policy: "
                                      "default-src 'none'"));
  EXPECT_THAT(page.body, HasSubstr("/api/scope"));

  HttpReply stats = Get("/api/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_THAT(stats.body, HasSubstr("\"state\":\"serving\""));
  EXPECT_THAT(stats.body, HasSubstr("\"momentum\":1,"));
  EXPECT_THAT(stats.body, HasSubstr("\"http_port\":\"0\""));
  // Live rates come from the server's readings of its counters, one a
  // second: within a few seconds every method carries them.
  for (int i = 0; i < 50; ++i) {
    stats = Get("/api/stats");
    if (stats.body.find("\"per_second\":") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(stats.body, HasSubstr("\"rate_seconds\":"));
  EXPECT_THAT(stats.body, HasSubstr("\"per_second\":{\"calls\":"));
}

constexpr char kTokens[] =
    "reader-token reader\n"
    "tower0-reader reader tower0\n"
    "writer-token writer\n";

TEST_F(OperatorViewTest, AReaderSeesOnlyItsPrefixes) {
  const std::string tokens =
      std::string(std::getenv("TEST_TMPDIR")) + "/operator_tokens";
  std::ofstream(tokens) << kTokens;
  Start({"--tokens_file=" + tokens}, "writer-token");
  Make("tower0", "w", 4);
  Make("tower1", "w", 4);
  Make("tower00", "w", 4);

  EXPECT_EQ(Get("/api/scope?name=").status, 401);
  EXPECT_EQ(Get("/api/scope?name=", "nobody").status, 401);
  HttpReply all = Get("/api/scope?name=", "reader-token");
  ASSERT_EQ(all.status, 200);
  EXPECT_THAT(all.body, HasSubstr("\"variables\":3,"));

  HttpReply confined = Get("/api/scope?name=", "tower0-reader");
  ASSERT_EQ(confined.status, 200) << confined.body;
  EXPECT_THAT(confined.body, HasSubstr("\"variables\":1,"));
  EXPECT_THAT(confined.body, HasSubstr("\"name\":\"tower0\""));
  EXPECT_THAT(confined.body, Not(HasSubstr("tower1")));
  EXPECT_THAT(confined.body, Not(HasSubstr("tower00")));
  EXPECT_EQ(Get("/api/variable?name=tower0/w", "tower0-reader").status, 200);
  // Outside its prefixes a variable is as good as missing.
  HttpReply hidden = Get("/api/variable?name=tower1/w", "tower0-reader");
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(Get("/api/variable?name=tower1/w", "reader-token").status, 200);
  // Server-wide figures need a token that reaches every name.
  EXPECT_EQ(Get("/api/stats", "tower0-reader").status, 403);
  EXPECT_EQ(Get("/api/stats", "reader-token").status, 200);
  // The page itself holds no data: it loads, then asks for a token.
  EXPECT_EQ(Get("/").status, 200);
}

TEST_F(OperatorViewTest, PsctlStatsPrintsTheFiguresAsJson) {
  const std::string tokens =
      std::string(std::getenv("TEST_TMPDIR")) + "/stats_tokens";
  std::ofstream(tokens) << kTokens;
  Start({"--tokens_file=" + tokens}, "writer-token");
  Make("stats", "v", 250);
  const std::string http = absl::StrCat("--http=127.0.0.1:", http_port_);
  CommandResult stats =
      RunCommand({PsctlBinary(), http, "--token=reader-token", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("\"state\":\"serving\""));
  EXPECT_THAT(stats.out, HasSubstr("\"store\":{\"variables\":1,"
                                   "\"bytes\":1000,"));
  EXPECT_THAT(stats.out, HasSubstr("\"method\":\"Session\""));
  EXPECT_EQ(stats.out.back(), '\n');

  CommandResult no_token = RunCommand({PsctlBinary(), http, "stats"});
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_THAT(no_token.err, HasSubstr("UNAUTHENTICATED: GET /api/stats from "
                                      "127.0.0.1:"));
  CommandResult confined =
      RunCommand({PsctlBinary(), http, "--token=tower0-reader", "stats"});
  EXPECT_EQ(confined.exit_code, 1);
  EXPECT_THAT(confined.err, HasSubstr("PERMISSION_DENIED"));
  // A token goes in plain HTTP only to a loopback address.
  CommandResult remote = RunCommand({PsctlBinary(), "--http=192.0.2.1:8080",
                                     "--token=reader-token", "stats"});
  EXPECT_EQ(remote.exit_code, 1);
  EXPECT_THAT(remote.err,
              HasSubstr("FAILED_PRECONDITION: psctl stats speaks plain HTTP "
                        "and sends a token only to a loopback address"));
  CommandResult bad = RunCommand({PsctlBinary(), "--http=nowhere", "stats"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("is not HOST:PORT"));
}

TEST_F(OperatorViewTest, CountsDynamicTableRowsAdmissionsAndEvictions) {
  Start({"--table_stripes=1"});
  TableRequest request;
  request.name = "emb/users";
  request.reuse = ReuseMode::kCreate;
  request.spec.width = 4;
  request.spec.capacity = 3;  // And one stripe, so eviction is exact LRU.
  request.spec.admit_after = 2;
  ASSERT_TRUE(client_->GetTable(request).ok());
  // Ids 1..5 seen once (not admitted), then twice: admitted in turn, the
  // table holding at most 3, so 2 are evicted to make room.
  const std::vector<int64_t> ids = {1, 2, 3, 4, 5};
  ASSERT_TRUE(client_->GatherRows("emb/users", ids).ok());
  for (int64_t id : ids) {
    ASSERT_TRUE(client_->GatherRows("emb/users", {id}).ok());
  }
  absl::StatusOr<TableStatus> table = client_->GetTableStats("emb/users");
  ASSERT_TRUE(table.ok()) << table.status();
  const std::string metrics = Metrics();
  const std::string label = "{table=\"emb/users\"";
  EXPECT_EQ(Sample(metrics, "ps_tables"), 1) << metrics;
  EXPECT_EQ(Sample(metrics, "ps_table_rows" + label + "}"),
            table->counters.stored_rows);
  EXPECT_EQ(table->counters.stored_rows, 3);
  EXPECT_EQ(Sample(metrics, "ps_table_admitted_total" + label + "}"), 5);
  EXPECT_EQ(Sample(metrics,
                   "ps_table_evicted_total" + label + ",reason=\"capacity\"}"),
            table->counters.evicted_capacity);
  EXPECT_EQ(table->counters.evicted_capacity, 2);
  EXPECT_EQ(
      Sample(metrics, "ps_table_lookup_ids_total" + label + ",result=\"hit\"}"),
      table->counters.lookup_hits);
  EXPECT_EQ(Sample(metrics, "ps_table_bytes" + label + "}"),
            static_cast<double>(table->counters.bytes));
}

TEST_F(OperatorViewTest, CountsOpenSessions) {
  Start({});
  Make("s", "v", 4);  // Through a session of the client's, kept open.
  const std::string metrics = Metrics();
  EXPECT_GE(Sample(metrics, "ps_sessions_open"), 1) << metrics;
  client_.reset();
  // The server sees the stream end shortly after the client goes.
  double open = -1;
  for (int i = 0; i < 100; ++i) {
    open = Sample(Metrics(), "ps_sessions_open");
    if (open == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(open, 0);
}

}  // namespace
}  // namespace paramserver
