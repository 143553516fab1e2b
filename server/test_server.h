#ifndef PARAM_SERVER_SERVER_TEST_SERVER_H_
#define PARAM_SERVER_SERVER_TEST_SERVER_H_

// In-process servers for tests: one way to start them for the server's own
// tests and the client's (tests/ starts the real binary instead, see
// tests/server_process.h).

#include <grpcpp/grpcpp.h>

#include <memory>

#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/grpc_server.h"

namespace paramserver {

// A GrpcServer started with `options` on a free loopback port (options.port
// is ignored). Null, with a test failure recorded, when it cannot start;
// call it under ASSERT_NO_FATAL_FAILURE or check the result.
std::unique_ptr<GrpcServer> StartTestServer(ServerOptions options = {});

// A plaintext channel to `server`.
std::shared_ptr<grpc::Channel> TestChannel(const GrpcServer& server);

// A fixture: a test server holding "v", 300000 random floats (seed 7, so
// more than one 1 MiB chunk), with a channel and a generated stub to it.
class ServerWithVariableTest : public ::testing::Test {
 protected:
  void SetUp() override;

  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::ParameterServer::Stub> stub_;
  rpc::GetVariableResponse created_;  // What creating v answered.
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_TEST_SERVER_H_
