// The client against a server that answers with values that do not match
// what it says of them: the client refuses them with DATA_LOSS instead of
// trusting the sizes (a shape whose byte size wraps around 2^64 used to be
// taken at its word).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.pb.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

// Answers every call with the same serialized response.
class FixedAnswerService final : public grpc::CallbackGenericService {
 public:
  explicit FixedAnswerService(std::string response)
      : response_(std::move(response)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* /*context*/) override {
    return new Reactor(response_);
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const std::string& response) {
      grpc::Slice slice(response);
      response_ = grpc::ByteBuffer(&slice, 1);
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "No request."));
        return;
      }
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };

  const std::string response_;
};

// Pulls "v" from a server that answers with `response`.
absl::Status PullFrom(const rpc::PullResponse& response) {
  FixedAnswerService service(response.SerializeAsString());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return absl::InternalError("No server.");
  absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
      ParameterServerClient::Connect("127.0.0.1:" + std::to_string(port));
  if (!client.ok()) return client.status();
  const absl::Status status = (*client)->Pull({{"v", 0}}).status();
  server->Shutdown();
  return status;
}

rpc::PullResponse OneValue(int64_t dim, std::string value) {
  rpc::PullResponse response;
  rpc::PulledVariable* pulled = response.add_variables();
  pulled->mutable_variable()->set_name("v");
  pulled->mutable_variable()->mutable_shape()->add_dims(dim);
  pulled->mutable_variable()->set_dtype(rpc::DT_FLOAT);
  pulled->mutable_variable()->set_version(1);
  pulled->set_value(std::move(value));
  return response;
}

TEST(ClientBadServerTest, AValueOfTheWrongSizeIsDataLoss) {
  const absl::Status status = PullFrom(OneValue(4, std::string(8, '\0')));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("has 8 bytes; its shape and dtype need 16"));
  EXPECT_TRUE(PullFrom(OneValue(4, std::string(16, '\0'))).ok());
}

TEST(ClientBadServerTest, MoreValuesThanVariablesPulledIsDataLoss) {
  rpc::PullResponse two = OneValue(4, std::string(16, '\0'));
  *two.add_variables() = two.variables(0);
  const absl::Status status = PullFrom(two);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_EQ(status.message(),
            "The server answered 2 values for 1 pulled variables.");
}

TEST(ClientBadServerTest, AShapeWhoseSizeWrapsAroundIsDataLoss) {
  // 2^62 floats "need" 0 bytes when multiplied in 64 bits.
  const absl::Status status = PullFrom(OneValue(int64_t{1} << 62, ""));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("too large for any value"));
}

}  // namespace
}  // namespace paramserver
