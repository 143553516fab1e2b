// A table of malformed requests sent to the real server with the generated
// stub (so that values the client library would never produce get through).
// Each must get a precise status, and the server must keep serving.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

struct MalformedCase {
  const char* description;
  std::function<void(rpc::GetVariableRequest&)> mutate;
  grpc::StatusCode code;
  const char* message_part;
};

rpc::GetVariableRequest ValidRequest() {
  rpc::GetVariableRequest request;
  request.set_scope("ok");
  request.set_name("v");
  request.set_reuse(rpc::AUTO_REUSE);
  request.mutable_shape()->add_dims(3);
  return request;
}

const MalformedCase kCases[] = {
    {"empty name", [](auto& r) { r.set_name(""); },
     grpc::StatusCode::INVALID_ARGUMENT,
     "Invalid variable name '': it is empty."},
    {"name with a space", [](auto& r) { r.set_name("a b"); },
     grpc::StatusCode::INVALID_ARGUMENT, "must match [A-Za-z0-9.]"},
    {"leading underscore at the top level",
     [](auto& r) {
       r.set_scope("");
       r.set_name("_v");
     },
     grpc::StatusCode::INVALID_ARGUMENT, "must match"},
    {"dot-dot component", [](auto& r) { r.set_scope("a/.."); },
     grpc::StatusCode::INVALID_ARGUMENT, "'..' are not allowed"},
    {"double slash", [](auto& r) { r.set_scope("a//b"); },
     grpc::StatusCode::INVALID_ARGUMENT, "empty path component"},
    {"leading slash", [](auto& r) { r.set_scope("/a"); },
     grpc::StatusCode::INVALID_ARGUMENT, "Invalid variable name '/a/v'"},
    {"10,000-deep scope",
     [](auto& r) {
       std::string scope = "s";
       for (int i = 0; i < 10000; ++i) scope += "/s";
       r.set_scope(scope);
     },
     grpc::StatusCode::INVALID_ARGUMENT, "bytes long; the limit is 4096"},
    {"negative dimension", [](auto& r) { r.mutable_shape()->add_dims(-2); },
     grpc::StatusCode::INVALID_ARGUMENT, "Dimension -2 must be >= 0"},
    {"overflowing shape",
     [](auto& r) {
       for (int i = 0; i < 4; ++i)
         r.mutable_shape()->add_dims(int64_t{1} << 20);
     },
     grpc::StatusCode::INVALID_ARGUMENT, "overflows int64"},
    {"shape over the memory limit",
     [](auto& r) {
       r.set_name("big");
       r.mutable_shape()->add_dims(int64_t{1} << 40);
     },
     grpc::StatusCode::RESOURCE_EXHAUSTED, "per-variable limit"},
    {"unknown reuse value",
     [](auto& r) { r.set_reuse(static_cast<rpc::ReuseMode>(9)); },
     grpc::StatusCode::INVALID_ARGUMENT, "Unknown value 9 for field 'reuse'"},
    {"unknown dtype",
     [](auto& r) { r.set_dtype(static_cast<rpc::DataType>(7)); },
     grpc::StatusCode::INVALID_ARGUMENT, "Unknown value 7 for field 'dtype'"},
    {"unknown initializer",
     [](auto& r) {
       r.mutable_initializer()->set_kind(
           static_cast<rpc::Initializer::Kind>(42));
     },
     grpc::StatusCode::INVALID_ARGUMENT, "'initializer.kind'"},
    {"normal initializer on int32",
     [](auto& r) {
       r.set_name("counts");
       r.set_dtype(rpc::DT_INT32);
       r.mutable_initializer()->set_kind(rpc::Initializer::RANDOM_NORMAL);
     },
     grpc::StatusCode::INVALID_ARGUMENT,
     "Initializer random_normal for variable ok/counts requires a floating "
     "point "
     "dtype, got int32."},
    {"constant with more values than the shape holds",
     [](auto& r) {
       r.set_name("c");
       r.mutable_initializer()->set_kind(rpc::Initializer::CONSTANT);
       for (double v : {1.0, 2.0, 3.0, 4.0})
         r.mutable_initializer()->add_values(v);
     },
     grpc::StatusCode::INVALID_ARGUMENT,
     "Too many elements provided. Needed at most 3, but received 4"},
    {"integer random_uniform without maxval",
     [](auto& r) {
       r.set_name("i");
       r.set_dtype(rpc::DT_INT64);
       r.mutable_initializer()->set_kind(rpc::Initializer::RANDOM_UNIFORM);
     },
     grpc::StatusCode::INVALID_ARGUMENT,
     "Must specify maxval for integer dtype tf.int64"},
    {"reuse of a missing variable",
     [](auto& r) {
       r.set_name("missing");
       r.set_reuse(rpc::REUSE);
     },
     grpc::StatusCode::NOT_FOUND, "Variable ok/missing does not exist"},
    {"sharing with a different shape",
     [](auto& r) { r.mutable_shape()->set_dims(0, 4); },
     grpc::StatusCode::INVALID_ARGUMENT,
     "Trying to share variable ok/v, but specified shape (4,) and found shape "
     "(3,)."},
    {"sharing with a different dtype",
     [](auto& r) { r.set_dtype(rpc::DT_INT64); },
     grpc::StatusCode::INVALID_ARGUMENT,
     "specified dtype int64 and found dtype float32"},
    {"creating an existing variable", [](auto& r) { r.set_reuse(rpc::CREATE); },
     grpc::StatusCode::ALREADY_EXISTS,
     "Variable ok/v already exists, disallowed."},
};

class MalformedRequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(
        server_->target(), grpc::InsecureChannelCredentials(), args);
    stub_ = rpc::ParameterServer::NewStub(channel_);
  }

  grpc::Status Call(const rpc::GetVariableRequest& request,
                    rpc::GetVariableResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    return stub_->GetVariable(&context, request, response);
  }

  static std::chrono::system_clock::time_point Deadline() {
    return std::chrono::system_clock::now() + std::chrono::seconds(20);
  }

  // Sends `bytes` as the request of a unary method, as a client with another
  // idea of the schema (or none) could.
  grpc::Status RawUnary(const std::string& method, const std::string& bytes) {
    grpc::internal::RpcMethod rpc_method(method.c_str(),
                                         grpc::internal::RpcMethod::NORMAL_RPC);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::ByteBuffer response;
    return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer,
                                             grpc::ByteBuffer>(
        channel_.get(), rpc_method, &context, Bytes(bytes), &response);
  }

  grpc::Status RawPullChunks(const std::string& bytes) {
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServer/PullChunks",
        grpc::internal::RpcMethod::SERVER_STREAMING);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
        grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
            channel_.get(), method, &context, Bytes(bytes)));
    grpc::ByteBuffer ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }

  grpc::Status RawPushChunks(const std::string& bytes) {
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServer/PushChunks",
        grpc::internal::RpcMethod::CLIENT_STREAMING);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel_.get(), method, &context, &response));
    writer->Write(Bytes(bytes));
    writer->WritesDone();
    return writer->Finish();
  }

  // A session call whose request is `bytes`: its status comes in the
  // response, and the session goes on.
  grpc::Status RawSessionCall(const std::string& bytes) {
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServerSessions/Session",
        grpc::internal::RpcMethod::BIDI_STREAMING);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    std::unique_ptr<
        grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
        stream(grpc::internal::ClientReaderWriterFactory<
               grpc::ByteBuffer, grpc::ByteBuffer>::Create(channel_.get(),
                                                           method, &context));
    grpc::ByteBuffer raw;
    rpc::SessionResponse response;
    std::vector<grpc::Slice> slices;
    std::string received;
    if (!stream->Write(Bytes(bytes)) || !stream->Read(&raw) ||
        !raw.Dump(&slices).ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "session stream failed");
    }
    for (const grpc::Slice& slice : slices) {
      received.append(reinterpret_cast<const char*>(slice.begin()),
                      slice.size());
    }
    // The session still serves a good call after the bad one.
    rpc::SessionRequest good;
    good.mutable_get_variable()->set_scope("ok");
    good.mutable_get_variable()->set_name("v");
    good.mutable_get_variable()->set_reuse(rpc::REUSE);
    if (!response.ParseFromString(received) ||
        !stream->Write(Bytes(good.SerializeAsString())) ||
        !stream->Read(&raw)) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "session stream failed");
    }
    stream->WritesDone();
    if (!stream->Finish().ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "session did not end OK");
    }
    return grpc::Status(static_cast<grpc::StatusCode>(response.code()),
                        response.message());
  }

  static grpc::ByteBuffer Bytes(const std::string& bytes) {
    grpc::Slice slice(bytes);
    return grpc::ByteBuffer(&slice, 1);
  }

  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::ParameterServer::Stub> stub_;
};

// Bytes that no message of ours parses from: a length-delimited field 1
// whose length runs past the end, and a message cut short.
const std::string kGarbage("\x0a\xff\xff\xff\xff\x0f", 6);
std::string Truncated() {
  return ValidRequest().SerializeAsString().substr(0, 5);
}

TEST_F(MalformedRequestsTest,
       BytesThatDoNotParseAreInvalidArgumentOnEveryMethod) {
  rpc::GetVariableResponse created;
  ASSERT_TRUE(Call(ValidRequest(), &created).ok());
  const std::pair<const char*, const char*> kUnary[] = {
      {"/paramserver.rpc.ParameterServer/GetVariable", "GetVariableRequest"},
      {"/paramserver.rpc.ParameterServer/ReadVariable", "ReadVariableRequest"},
      {"/paramserver.rpc.ParameterServer/ListVariables",
       "ListVariablesRequest"},
      {"/paramserver.rpc.ParameterServer/DeleteVariables",
       "DeleteVariablesRequest"},
      {"/paramserver.rpc.ParameterServer/Pull", "PullRequest"},
      {"/paramserver.rpc.ParameterServer/GatherRows", "GatherRowsRequest"},
      {"/paramserver.rpc.ParameterServer/Push", "PushRequest"},
      {"/paramserver.rpc.ParameterServer/PushRows", "PushRowsRequest"},
      {"/paramserver.rpc.ParameterServer/LookupSparse", "LookupSparseRequest"},
      {"/paramserver.rpc.ParameterServer/GetServerInfo", "ServerInfoRequest"},
      {"/paramserver.rpc.ParameterServer/JoinCluster", "JoinClusterRequest"},
      {"/paramserver.rpc.ParameterServerAdmin/Save", "SaveRequest"},
  };
  for (const std::string& bytes : {kGarbage, Truncated()}) {
    for (const auto& [method, request] : kUnary) {
      SCOPED_TRACE(method);
      const grpc::Status status = RawUnary(method, bytes);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(status.error_message(),
                std::string("Malformed paramserver.rpc.") + request + ".");
    }
    const grpc::Status pull_chunks = RawPullChunks(bytes);
    EXPECT_EQ(pull_chunks.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(pull_chunks.error_message(),
              "Malformed paramserver.rpc.PullChunksRequest.");
    const grpc::Status push_chunks = RawPushChunks(bytes);
    EXPECT_EQ(push_chunks.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(push_chunks.error_message(), HasSubstr("Malformed"));
    const grpc::Status session = RawSessionCall(bytes);
    EXPECT_EQ(session.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << session.error_message();
    EXPECT_EQ(session.error_message(),
              "Malformed paramserver.rpc.SessionRequest.");
  }
  // Nothing changed, and the server still serves.
  rpc::GetVariableRequest check = ValidRequest();
  check.set_reuse(rpc::REUSE);
  rpc::GetVariableResponse response;
  ASSERT_TRUE(Call(check, &response).ok());
  EXPECT_EQ(response.variable().version(), 1);
}

TEST_F(MalformedRequestsTest, EachGetsAPreciseStatusAndTheServerKeepsServing) {
  rpc::GetVariableResponse response;
  ASSERT_TRUE(Call(ValidRequest(), &response).ok());
  for (const MalformedCase& c : kCases) {
    SCOPED_TRACE(c.description);
    rpc::GetVariableRequest request = ValidRequest();
    c.mutate(request);
    grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message_part));
    // The server still answers, and the existing variable is untouched.
    rpc::GetVariableRequest check = ValidRequest();
    check.set_reuse(rpc::REUSE);
    ASSERT_TRUE(Call(check, &response).ok());
    EXPECT_EQ(response.variable().version(), 1);
  }
  rpc::ListVariablesRequest list;
  rpc::ListVariablesResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListVariables(&context, list, &listed).ok());
  ASSERT_EQ(listed.variables_size(), 1);
  EXPECT_EQ(listed.variables(0).name(), "ok/v");
}

TEST_F(MalformedRequestsTest, OversizedMessageIsRejectedByTheTransport) {
  rpc::GetVariableRequest request = ValidRequest();
  request.set_name(std::string(65 << 20, 'a'));
  rpc::GetVariableResponse response;
  grpc::Status status = Call(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(Call(ValidRequest(), &response).ok());
}

TEST_F(MalformedRequestsTest, DeleteWithoutTargetAndBadPrefixes) {
  grpc::ClientContext delete_context;
  rpc::DeleteVariablesRequest empty;
  rpc::DeleteVariablesResponse deleted;
  grpc::Status status =
      stub_->DeleteVariables(&delete_context, empty, &deleted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "DeleteVariables needs a variable name or a scope.");

  grpc::ClientContext list_context;
  rpc::ListVariablesRequest list;
  list.set_prefix("a//b");
  rpc::ListVariablesResponse listed;
  EXPECT_EQ(stub_->ListVariables(&list_context, list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext read_context;
  rpc::ReadVariableRequest read;
  read.set_name("../etc/passwd");
  rpc::ReadVariableResponse value;
  EXPECT_EQ(stub_->ReadVariable(&read_context, read, &value).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MalformedRequestsTest, ABrokenExpectedPlaceOrClusterIdIsInvalid) {
  const std::pair<const char*, const char*> kBroken[] = {
      {"ps-expected-shard", "x/3"},
      {"ps-expected-shard", "3/3"},
      {"ps-expected-job", "demo"},  // A job without a shard.
  };
  for (const auto& [key, value] : kBroken) {
    SCOPED_TRACE(std::string(key) + ": " + value);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    context.AddMetadata(key, value);
    rpc::GetVariableResponse response;
    const grpc::Status status =
        stub_->GetVariable(&context, ValidRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const std::string& id :
       {std::string("has space"), std::string(65, 'c')}) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    rpc::JoinClusterRequest request;
    request.set_cluster(id);
    rpc::JoinClusterResponse response;
    const grpc::Status status =
        stub_->JoinCluster(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "A cluster id is at most 64 of [A-Za-z0-9_-].");
  }
  // The server keeps serving.
  rpc::GetVariableResponse created;
  EXPECT_TRUE(Call(ValidRequest(), &created).ok());
}

}  // namespace
}  // namespace paramserver
