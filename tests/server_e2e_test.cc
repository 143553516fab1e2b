// The real ps_server binary driven over gRPC: TensorFlow's sharing semantics
// across clients, racing creators, the standard health and reflection
// services, and clean shutdown on SIGTERM.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class ServerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = NewClient();
  }

  std::unique_ptr<ParameterServerClient> NewClient() {
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(server_->target());
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  static VariableRequest Request(std::string scope, std::string name,
                                 ReuseMode reuse, TensorShape shape) {
    VariableRequest request;
    request.scope = std::move(scope);
    request.name = std::move(name);
    request.reuse = reuse;
    request.shape = std::move(shape);
    return request;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ParameterServerClient> client_;
};

// Raw bytes in, raw bytes out, for services whose generated code the project
// does not carry (health, reflection).
std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::Status GenericUnary(const std::string& target, const std::string& method,
                          const std::string& request, std::string* response) {
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer,
                 &response_buffer, [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  *response = Flatten(response_buffer);
  return status;
}

// The seed's example: with tf.variable_scope("foo"): v = get_variable("v",
// [1]); reuse_variables(); v1 = get_variable("v", [1]); assert v1 == v.
TEST_F(ServerE2ETest, SameScopeWithReuseGivesTheSameVariable) {
  VariableRequest request = Request("foo", "v", ReuseMode::kCreate, {1});
  request.initializer.kind = InitializerKind::kRandomNormal;
  absl::StatusOr<FetchedVariable> v = client_->GetVariable(request, true);
  ASSERT_TRUE(v.ok()) << v.status();
  request.reuse = ReuseMode::kReuse;
  // Another worker, another connection.
  absl::StatusOr<FetchedVariable> v1 = NewClient()->GetVariable(request, true);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->info.name, "foo/v");
  EXPECT_TRUE(v->created);
  EXPECT_FALSE(v1->created);
  EXPECT_EQ(v1->value, v->value);
  EXPECT_EQ(client_->ListVariables("")->size(), 1);
}

TEST_F(ServerE2ETest, RacingCreatorsFromManyClientsExactlyOneWins) {
  constexpr int kClients = 12;
  std::atomic<int> created{0}, already_exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      auto client = NewClient();
      auto result = client->GetVariable(
          Request("race", "w", ReuseMode::kCreate, {64, 64}));
      if (result.ok()) {
        ++created;
      } else if (result.status().code() == absl::StatusCode::kAlreadyExists) {
        ++already_exists;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(already_exists, kClients - 1);
  EXPECT_EQ(other, 0);
}

TEST_F(ServerE2ETest, RacingAutoReuseInitializesOnceForEveryone) {
  constexpr int kClients = 12;
  std::atomic<int> created{0};
  std::vector<std::string> values(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto result = NewClient()->GetVariable(
          Request("shared", "w", ReuseMode::kAutoReuse, {256, 256}), true);
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->created) ++created;
      values[i] = result->value;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(created, 1);
  for (const std::string& value : values) {
    EXPECT_EQ(value.size(), 256 * 256 * sizeof(float));
    EXPECT_TRUE(value == values[0]);
  }
}

TEST_F(ServerE2ETest, HealthServiceReportsServing) {
  std::string response;
  grpc::Status status = GenericUnary(
      server_->target(), "/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)}.
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

// Asks server reflection at `target` for its services; returns the call's
// status and the first response's bytes.
std::pair<grpc::Status, std::string> ListServicesByReflection(
    const std::string& target) {
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  auto await = [&queue](intptr_t expected) {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  await(1);
  // ServerReflectionRequest{list_services: ""} (field 7).
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  await(2);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  const bool read = await(3);
  call->WritesDone(reinterpret_cast<void*>(4));
  await(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  await(5);
  return {status, read ? Flatten(response) : ""};
}

TEST_F(ServerE2ETest, ReflectionIsOffUnlessAskedFor) {
  EXPECT_EQ(ListServicesByReflection(server_->target()).first.error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  auto server = ServerProcess::Start({"--reflection"});
  ASSERT_TRUE(server.ok()) << server.status();
  const auto [status, services] = ListServicesByReflection((*server)->target());
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(services, HasSubstr("paramserver.rpc.ParameterServer"));
  EXPECT_THAT(services, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(ServerE2ETest, FrozenServerFailsCallsByKeepaliveNotByTheDeadline) {
  ClientOptions options;
  options.timeout = absl::Seconds(60);
  // The shortest the client allows: a ping after 5 s, 10 s for its answer.
  options.keepalive_time = absl::Seconds(5);
  options.keepalive_timeout = absl::Seconds(10);
  auto client = ParameterServerClient::Connect(server_->target(), options);
  ASSERT_TRUE(client.ok());
  VariableRequest request;
  request.name = "v";
  request.shape = TensorShape{4};
  ASSERT_TRUE((*client)->GetVariable(request).ok());
  // The process stops answering but its socket stays open, as a hung
  // machine's would.
  ASSERT_TRUE(StopAndWait(server_->pid()));
  const absl::Time start = absl::Now();
  auto pulled = (*client)->Pull({{"v", 0}});
  const absl::Duration waited = absl::Now() - start;
  ASSERT_EQ(kill(server_->pid(), SIGCONT), 0);
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kUnavailable)
      << pulled.status();
  EXPECT_LT(waited, absl::Seconds(20));
  // Once the server runs again, a new connection serves the next call.
  absl::StatusOr<std::vector<PulledValue>> again;
  for (int attempt = 0; attempt < 50; ++attempt) {
    again = (*client)->Pull({{"v", 0}});
    if (again.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(ServerE2ETest, SigtermShutsDownCleanly) {
  ASSERT_TRUE(
      client_->GetVariable(Request("", "v", ReuseMode::kCreate, {4})).ok());
  const int status = server_->StopWith(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(server_->Log(), HasSubstr("Shut down cleanly with 1 variables"));
}

// GetVariable runs on a pooled session stream, which a server restart ends
// while it is idle; the calls after the restart must not fail for that.
class ServerRestartE2ETest : public ::testing::TestWithParam<int> {};

TEST_P(ServerRestartE2ETest, ClientCarriesOnAfterTheServerRestarts) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) +
                          "/restart_" + std::to_string(GetParam());
  const std::vector<std::string> flags = {
      "--data_dir=" + dir, "--initialize_data_dir", "--wal_fsync=always"};
  auto server = ServerProcess::Start(flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string target = (*server)->target();
  auto client = ParameterServerClient::Connect(target);
  ASSERT_TRUE(client.ok());
  VariableRequest request;
  request.name = "v";
  request.shape = TensorShape{4};
  ASSERT_TRUE((*client)->GetVariable(request).ok());
  (*server)->StopWith(GetParam());
  std::vector<std::string> restart_flags = flags;
  restart_flags.push_back("--port=" + target.substr(target.rfind(':') + 1));
  server = ServerProcess::Start(restart_flags);
  ASSERT_TRUE(server.ok()) << server.status();
  // A create, which may not be repeated, and a reuse, which may.
  VariableRequest create = request;
  create.name = "w";
  auto created = (*client)->GetVariable(create);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  request.reuse = ReuseMode::kReuse;
  auto reused = (*client)->GetVariable(request);
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
}

INSTANTIATE_TEST_SUITE_P(StopSignals, ServerRestartE2ETest,
                         ::testing::Values(SIGTERM, SIGKILL));

TEST(ServerFlagsE2ETest, MemoryLimitFlagsAreEnforced) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      {"--max_variable_bytes=4096", "--max_total_bytes=8192"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ParameterServerClient::Connect((*server)->target());
  ASSERT_TRUE(client.ok());
  VariableRequest request;
  request.name = "big";
  request.shape = TensorShape{1025};
  EXPECT_EQ((*client)->GetVariable(request).status().code(),
            absl::StatusCode::kResourceExhausted);
  request.shape = TensorShape{1024};
  EXPECT_TRUE((*client)->GetVariable(request).ok());
}

TEST(ServerFlagsE2ETest, BusyPortIsAClearStartupError) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> first = ServerProcess::Start();
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port =
      (*first)->target().substr((*first)->target().rfind(':') + 1);
  CommandResult second = RunCommand({ServerBinary(), "--port=" + port});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.err, HasSubstr("Could not listen on 127.0.0.1:" + port));
}

}  // namespace
}  // namespace paramserver
