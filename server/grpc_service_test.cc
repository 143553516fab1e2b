// The service over a real channel: generated clients still parse the
// hand-encoded replies, and malformed raw input gets a precise status.

#include "server/grpc_service.h"

#include <grpcpp/impl/client_unary_call.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "server/grpc_server.h"

namespace paramserver {
namespace {

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

class GrpcServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->target(),
                                   grpc::InsecureChannelCredentials());
    stub_ = rpc::ParameterServer::NewStub(channel_);
    rpc::GetVariableRequest request;
    request.set_name("v");
    request.mutable_shape()->add_dims(300000);  // Over one 1 MiB chunk.
    request.mutable_initializer()->set_kind(rpc::Initializer::RANDOM_UNIFORM);
    request.mutable_initializer()->set_seed(7);
    request.set_return_value(true);
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetVariable(&context, request, &created_).ok());
  }

  // A raw call with arbitrary request bytes.
  grpc::Status RawUnary(const std::string& method, const std::string& bytes) {
    grpc::internal::RpcMethod rpc_method(method.c_str(),
                                         grpc::internal::RpcMethod::NORMAL_RPC);
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel_.get(), rpc_method, &context, Bytes(bytes), &response);
  }

  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::ParameterServer::Stub> stub_;
  rpc::GetVariableResponse created_;
};

TEST_F(GrpcServiceTest, GeneratedClientParsesPull) {
  rpc::PullRequest request;
  request.add_items()->set_name("v");
  request.add_items()->set_name("v");
  request.mutable_items(1)->set_known_version(created_.variable().version());
  rpc::PullResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Pull(&context, request, &response).ok());
  ASSERT_EQ(response.variables_size(), 2);
  EXPECT_EQ(response.variables(0).variable().name(), "v");
  EXPECT_EQ(response.variables(0).value(), created_.value());
  EXPECT_TRUE(response.variables(1).unchanged());
  EXPECT_TRUE(response.variables(1).value().empty());
}

TEST_F(GrpcServiceTest, GeneratedClientParsesPullChunks) {
  rpc::PullChunksRequest request;
  request.set_name("v");
  request.set_chunk_bytes(100000);
  grpc::ClientContext context;
  auto reader = stub_->PullChunks(&context, request);
  rpc::ValueChunk chunk;
  std::string value;
  int chunks = 0;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.has_variable(), chunks == 0);
    EXPECT_EQ(chunk.offset(), static_cast<int64_t>(value.size()));
    value += chunk.data();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chunks, 12);
  EXPECT_EQ(value, created_.value());
}

TEST_F(GrpcServiceTest, MalformedRawRequestsAreInvalidArgument) {
  const std::string garbage("\x0a\xff\xff\xff\xff\x0f", 6);
  grpc::Status status = RawUnary("/paramserver.rpc.ParameterServer/Pull", garbage);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("PullRequest"), std::string::npos);

  grpc::internal::RpcMethod pull_chunks(
      "/paramserver.rpc.ParameterServer/PullChunks",
      grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
          channel_.get(), pull_chunks, &context, Bytes(garbage)));
  grpc::ByteBuffer ignored;
  while (reader->Read(&ignored)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A PushChunk whose data length runs past the end.
  for (const std::string& chunk :
       {garbage, std::string("\x22\x09short", 7), std::string("\x10\x01", 2)}) {
    grpc::internal::RpcMethod push_chunks(
        "/paramserver.rpc.ParameterServer/PushChunks",
        grpc::internal::RpcMethod::CLIENT_STREAMING);
    grpc::ClientContext push_context;
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel_.get(), push_chunks, &push_context, &response));
    writer->Write(Bytes(chunk));
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << absl::CEscape(chunk);
  }
  // The server still serves.
  rpc::PullRequest request;
  request.add_items()->set_name("v");
  rpc::PullResponse response;
  grpc::ClientContext pull_context;
  EXPECT_TRUE(stub_->Pull(&pull_context, request, &response).ok());
}

TEST_F(GrpcServiceTest, SessionAnswersEachCallInOrderWithItsStatus) {
  auto sessions = rpc::ParameterServerSessions::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = sessions->Session(&context);
  rpc::SessionRequest request;
  rpc::SessionResponse response;

  request.mutable_get_variable()->set_name("v");
  request.mutable_get_variable()->set_reuse(rpc::REUSE);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code(), 0);
  EXPECT_EQ(response.get_variable().variable().name(), "v");
  EXPECT_TRUE(response.get_variable().value().empty());

  request.mutable_get_variable()->set_name("missing");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(response.message().find("missing"), std::string::npos);
  EXPECT_FALSE(response.has_get_variable());

  ASSERT_TRUE(stream->Write(rpc::SessionRequest()));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code(), grpc::StatusCode::UNIMPLEMENTED);

  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcServiceTest, ShutdownDoesNotWaitForIdleSessions) {
  auto sessions = rpc::ParameterServerSessions::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = sessions->Session(&context);
  rpc::SessionRequest request;
  request.mutable_get_variable()->set_name("v");
  request.mutable_get_variable()->set_reuse(rpc::REUSE);
  rpc::SessionResponse response;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));  // Open and idle from here on.

  const absl::Time start = absl::Now();
  server_->Shutdown(absl::Seconds(20));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_FALSE(stream->Finish().ok());
}

}  // namespace
}  // namespace paramserver
