#include "server/test_server.h"

#include <utility>

#include "gtest/gtest.h"

namespace paramserver {

std::unique_ptr<GrpcServer> StartTestServer(ServerOptions options) {
  options.port = 0;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::shared_ptr<grpc::Channel> TestChannel(const GrpcServer& server) {
  return grpc::CreateChannel(server.target(),
                             grpc::InsecureChannelCredentials());
}

void ServerWithVariableTest::SetUp() {
  server_ = StartTestServer();
  ASSERT_NE(server_, nullptr);
  channel_ = TestChannel(*server_);
  stub_ = rpc::ParameterServer::NewStub(channel_);
  rpc::GetVariableRequest request;
  request.set_name("v");
  request.mutable_shape()->add_dims(300000);
  request.mutable_initializer()->set_kind(rpc::Initializer::RANDOM_UNIFORM);
  request.mutable_initializer()->set_seed(7);
  request.set_return_value(true);
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetVariable(&context, request, &created_).ok());
}

}  // namespace paramserver
