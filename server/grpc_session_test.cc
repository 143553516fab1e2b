// ParameterServerSessions over a real channel.

#include "server/grpc_session.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "server/test_server.h"

namespace paramserver {
namespace {

using SessionTest = ServerWithVariableTest;

TEST_F(SessionTest, SessionAnswersEachCallInOrderWithItsStatus) {
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

TEST_F(SessionTest, ShutdownDoesNotWaitForIdleSessions) {
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
