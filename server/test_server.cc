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

}  // namespace paramserver
