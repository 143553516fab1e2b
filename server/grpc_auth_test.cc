// Access checks in every handler, in process over a real (loopback) channel:
// the unary, raw, streaming and session forms, and the plaintext policy.

#include "server/grpc_auth.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/grpc_server.h"
#include "server/test_server.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class GrpcAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    absl::StatusOr<TokenTable> tokens =
        TokenTable::Parse("r reader\nw writer\na admin\nt0 admin tower0\n");
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    options.tokens = *std::move(tokens);
    server_ = StartTestServer(std::move(options));
    ASSERT_NE(server_, nullptr);
    channel_ = TestChannel(*server_);
    stub_ = rpc::ParameterServer::NewStub(channel_);
    ASSERT_TRUE(GetVariable("a", "tower1/v", rpc::CREATE).ok());
  }

  static std::unique_ptr<grpc::ClientContext> Context(
      const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty())
      context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  grpc::Status GetVariable(const std::string& token, const std::string& name,
                           rpc::ReuseMode reuse) {
    rpc::GetVariableRequest request;
    request.set_name(name);
    request.set_reuse(reuse);
    request.mutable_shape()->add_dims(3);
    rpc::GetVariableResponse response;
    return stub_->GetVariable(Context(token).get(), request, &response);
  }

  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::ParameterServer::Stub> stub_;
};

TEST_F(GrpcAuthTest, UnaryGetVariableChecksReuseMode) {
  EXPECT_EQ(GetVariable("", "tower1/v", rpc::REUSE).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(GetVariable("r", "tower1/v", rpc::REUSE).ok());
  const grpc::Status denied = GetVariable("r", "tower1/v", rpc::AUTO_REUSE);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("writer"));
  EXPECT_TRUE(GetVariable("w", "tower1/v", rpc::AUTO_REUSE).ok());
  EXPECT_EQ(GetVariable("t0", "tower1/w", rpc::CREATE).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(GrpcAuthTest, PullChunksChecksTheName) {
  rpc::PullChunksRequest request;
  request.set_name("tower1/v");
  for (const auto& [token, code] :
       {std::pair{"", grpc::StatusCode::UNAUTHENTICATED},
        std::pair{"t0", grpc::StatusCode::PERMISSION_DENIED},
        std::pair{"r", grpc::StatusCode::OK}}) {
    auto context = Context(token);
    auto reader = stub_->PullChunks(context.get(), request);
    rpc::ValueChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), code) << token;
  }
}

TEST_F(GrpcAuthTest, SessionCallsAreCheckedOneByOne) {
  auto sessions = rpc::ParameterServerSessions::NewStub(channel_);
  auto context = Context("r");
  auto stream = sessions->Session(context.get());
  rpc::SessionRequest request;
  request.mutable_get_variable()->set_name("tower1/v");
  request.mutable_get_variable()->set_reuse(rpc::REUSE);
  rpc::SessionResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code(), 0) << response.message();
  request.mutable_get_variable()->set_reuse(rpc::AUTO_REUSE);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code(), grpc::StatusCode::PERMISSION_DENIED);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcAuthTest, TwoAuthorizationHeadersAreRefused) {
  rpc::ListVariablesRequest request;
  rpc::ListVariablesResponse response;
  // Whichever comes first, a call with two is refused.
  for (const auto& [first, second] :
       {std::pair{"r", "a"}, std::pair{"bad", "a"}, std::pair{"a", "a"}}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + first);
    context.AddMetadata("authorization", std::string("Bearer ") + second);
    const grpc::Status status =
        stub_->ListVariables(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << first;
    EXPECT_THAT(status.error_message(),
                HasSubstr("More than one authorization"));
  }
  EXPECT_TRUE(
      stub_->ListVariables(Context("a").get(), request, &response).ok());
}

TEST_F(GrpcAuthTest, SessionWithoutAKnownTokenIsRefusedAtOpen) {
  auto sessions = rpc::ParameterServerSessions::NewStub(channel_);
  for (const std::string token : {"", "unknown"}) {
    auto context = Context(token);
    auto stream = sessions->Session(context.get());
    rpc::SessionResponse response;
    // No request is needed: the stream ends with the status at once.
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << token;
  }
}

TEST_F(GrpcAuthTest, DeleteAndSaveNeedAnUnlimitedAdminForEverything) {
  rpc::DeleteVariablesRequest request;
  request.set_scope("");
  rpc::DeleteVariablesResponse response;
  EXPECT_EQ(stub_->DeleteVariables(Context("w").get(), request, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->DeleteVariables(Context("t0").get(), request, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto admin = rpc::ParameterServerAdmin::NewStub(channel_);
  rpc::SaveResponse saved;
  EXPECT_EQ(admin->Save(Context("t0").get(), {}, &saved).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Allowed, then refused for want of a data directory.
  EXPECT_EQ(admin->Save(Context("a").get(), {}, &saved).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(LoopbackTest, RecognisesLoopbackAddresses) {
  for (const char* address :
       {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address :
       {"0.0.0.0", "::", "[::]", "10.0.0.1", "example.com", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(TransportPolicyTest, PlaintextOffLoopbackNeedsExplicitConsent) {
  ServerOptions options;
  options.address = "0.0.0.0";
  options.port = 0;
  absl::StatusOr<std::unique_ptr<GrpcServer>> refused =
      GrpcServer::Start(options);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  options.allow_insecure_remote = true;
  absl::StatusOr<std::unique_ptr<GrpcServer>> allowed =
      GrpcServer::Start(options);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

}  // namespace
}  // namespace paramserver
