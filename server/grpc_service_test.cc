// The unary service over a real channel: generated clients still parse the
// hand-encoded replies, and malformed raw input gets a precise status.

#include "server/grpc_service.h"

#include <grpcpp/impl/client_unary_call.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "server/test_server.h"

namespace paramserver {
namespace {

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

class GrpcServiceTest : public ServerWithVariableTest {
 protected:
  // A raw call with arbitrary request bytes.
  grpc::Status RawUnary(const std::string& method, const std::string& bytes) {
    grpc::internal::RpcMethod rpc_method(method.c_str(),
                                         grpc::internal::RpcMethod::NORMAL_RPC);
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer,
                                             grpc::ByteBuffer>(
        channel_.get(), rpc_method, &context, Bytes(bytes), &response);
  }
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

TEST_F(GrpcServiceTest, MalformedRawRequestsAreInvalidArgument) {
  const std::string garbage("\x0a\xff\xff\xff\xff\x0f", 6);
  grpc::Status status =
      RawUnary("/paramserver.rpc.ParameterServer/Pull", garbage);
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

// A request that would parse into far more memory than its size (here some
// 30 million empty items) is refused before it is parsed.
TEST_F(GrpcServiceTest, RequestsThatWouldParseIntoFarMoreMemoryAreRefused) {
  std::string empty_items;
  while (empty_items.size() < (size_t{60} << 20))
    empty_items += std::string("\x0a\x00", 2);
  for (const char* method : {"/paramserver.rpc.ParameterServer/Pull",
                             "/paramserver.rpc.ParameterServer/Push"}) {
    const grpc::Status status = RawUnary(method, empty_items);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method;
    EXPECT_NE(status.error_message().find("too many items"), std::string::npos)
        << status.error_message();
  }
  // And the server serves on.
  rpc::PullRequest request;
  request.add_items()->set_name("v");
  rpc::PullResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub_->Pull(&context, request, &response).ok());
}

}  // namespace
}  // namespace paramserver
