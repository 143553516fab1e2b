// The service over a real channel: generated clients still parse the
// hand-encoded replies, and malformed raw input gets a precise status.

#include "server/grpc_service.h"

#include <grpcpp/impl/client_unary_call.h>

#include <memory>
#include <string>
#include <tuple>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "wire/zero_copy_writer.h"

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

// PushChunks, as a hostile or unlucky client drives it.
class PushChunksTest : public GrpcServiceTest {
 protected:
  struct Stream {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer;
  };

  std::unique_ptr<Stream> Open(
      absl::Duration deadline = absl::Seconds(20)) {
    auto stream = std::make_unique<Stream>();
    stream->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::internal::RpcMethod method("/paramserver.rpc.ParameterServer/PushChunks",
                                     grpc::internal::RpcMethod::CLIENT_STREAMING);
    stream->writer.reset(grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
        channel_.get(), method, &stream->context, &stream->response));
    return stream;
  }

  // An ASSIGN_ADD of zeros to v, the request and then all its data.
  static bool SendWholePush(Stream& stream) {
    rpc::PushRequest request;
    request.add_updates()->set_name("v");
    request.mutable_updates(0)->set_kind(rpc::Update::ASSIGN_ADD);
    const std::string zeros(300000 * sizeof(float), '\0');
    return stream.writer->Write(EncodePushChunk(&request, 0, 0, {})) &&
           stream.writer->Write(EncodePushChunk(nullptr, 0, 0, zeros));
  }

  int64_t Version() {
    absl::StatusOr<VariableSnapshot> v = server_->store().ReadVariable("v");
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->info.version : -1;
  }
};

TEST_F(PushChunksTest, AHalfClosedPushIsApplied) {
  auto stream = Open();
  ASSERT_TRUE(SendWholePush(*stream));
  stream->writer->WritesDone();
  EXPECT_TRUE(stream->writer->Finish().ok());
  EXPECT_EQ(Version(), 2);
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

TEST_F(PushChunksTest, ACancelledPushAppliesNothing) {
  auto stream = Open();
  ASSERT_TRUE(SendWholePush(*stream));
  absl::SleepFor(absl::Milliseconds(200));  // Everything has arrived.
  stream->context.TryCancel();
  EXPECT_EQ(stream->writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Version(), 1);
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

TEST_F(PushChunksTest, APushPastItsDeadlineAppliesNothing) {
  auto stream = Open(absl::Milliseconds(500));
  ASSERT_TRUE(SendWholePush(*stream));
  EXPECT_EQ(stream->writer->Finish().error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Version(), 1);
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

TEST_F(PushChunksTest, TheWholeRequestIsCheckedBeforeAnyData) {
  rpc::PushRequest repeated;
  for (int i = 0; i < 1000; ++i) repeated.add_updates()->set_name("v");
  rpc::PushRequest missing;
  missing.add_updates()->set_name("v");
  missing.add_updates()->set_name("nowhere");
  rpc::PushRequest too_many;
  for (size_t i = 0; i <= kMaxUpdatesPerPush; ++i) too_many.add_updates()->set_name("v");
  rpc::PushRequest empty_updates;  // 30 million would be refused the same way.
  for (size_t i = 0; i < 3 * kMaxUpdatesPerPush; ++i) empty_updates.add_updates();
  for (const auto& [request, code, message] :
       {std::tuple{&repeated, grpc::StatusCode::INVALID_ARGUMENT, "appears twice"},
        std::tuple{&missing, grpc::StatusCode::NOT_FOUND, "nowhere"},
        std::tuple{&too_many, grpc::StatusCode::INVALID_ARGUMENT, "at most 65536"},
        std::tuple{&empty_updates, grpc::StatusCode::INVALID_ARGUMENT,
                   "this one has 196608"}}) {
    auto stream = Open();
    stream->writer->Write(EncodePushChunk(request, 0, 0, {}));
    // The stream is refused at once, before the client half-closes.
    const grpc::Status status = stream->writer->Finish();
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(message), std::string::npos)
        << status.error_message();
  }
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

TEST_F(PushChunksTest, DataMayNotRunPastItsVariable) {
  auto stream = Open();
  ASSERT_TRUE(SendWholePush(*stream));
  stream->writer->Write(EncodePushChunk(nullptr, 0, 1200000, "more"));
  const grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "Update 0 (v) would hold 1200004 bytes; the variable has 1200000.");
  EXPECT_EQ(Version(), 1);
}

// An empty data chunk is refused: it would count as progress and keep a
// stalled stream, with its reservation, alive past the idle limit.
TEST_F(PushChunksTest, AnEmptyDataChunkIsRefused) {
  auto stream = Open();
  rpc::PushRequest request;
  request.add_updates()->set_name("v");
  request.mutable_updates(0)->set_kind(rpc::Update::ASSIGN_ADD);
  ASSERT_TRUE(stream->writer->Write(EncodePushChunk(&request, 0, 0, {})));
  stream->writer->Write(EncodePushChunk(nullptr, 0, 0, ""));
  const grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Chunk for update 0 carries no data.");
  EXPECT_EQ(Version(), 1);
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

// A server started with `options` (on a free port) holding one float32
// variable `name` of `elements`, and PushChunks streams to it.
class LimitedServer {
 public:
  void Start(ServerOptions options, const std::string& name, int64_t elements) {
    options.port = 0;
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    VariableRequest request;
    request.name = name;
    request.shape = TensorShape{elements};
    ASSERT_TRUE(server_->store().GetVariable(request).ok());
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  }

  // A PushChunks stream whose first chunk, the request pushing `name`, has
  // been written.
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> OpenPush(
      const std::string& name, grpc::ClientContext* context,
      grpc::ByteBuffer* response) {
    grpc::internal::RpcMethod method("/paramserver.rpc.ParameterServer/PushChunks",
                                     grpc::internal::RpcMethod::CLIENT_STREAMING);
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel_.get(), method, context, response));
    rpc::PushRequest push;
    push.add_updates()->set_name(name);
    writer->Write(EncodePushChunk(&push, 0, 0, {}));
    return writer;
  }

  VariableStore& store() { return server_->store(); }

 private:
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST(PushChunksLimitsTest, BufferedBytesCountAgainstTheTotalLimit) {
  ServerOptions options;
  options.store = {.max_variable_bytes = 1 << 20, .max_total_bytes = 3 << 19};
  options.stream_idle_limit = absl::Milliseconds(300);
  LimitedServer server;
  ASSERT_NO_FATAL_FAILURE(server.Start(options, "big", 1 << 18));  // 1 MiB of 1.5.
  // The push's 1 MiB would not fit beside the variable.
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  auto writer = server.OpenPush("big", &context, &response);
  const grpc::Status refused = writer->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("1048576 bytes while it arrives"),
            std::string::npos)
      << refused.error_message();
  EXPECT_EQ(server.store().reserved_bytes(), 0);
}

TEST(PushChunksLimitsTest, AStalledStreamIsCancelledAndReleasesItsMemory) {
  ServerOptions options;
  options.stream_idle_limit = absl::Milliseconds(300);
  LimitedServer server;
  ASSERT_NO_FATAL_FAILURE(server.Start(options, "w", 1000));
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  auto writer = server.OpenPush("w", &context, &response);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(server.store().reserved_bytes(), 4000);
  // Then nothing: the watchdog ends the stream after 300-375 ms.
  const absl::Time start = absl::Now();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(server.store().reserved_bytes(), 0);
  EXPECT_EQ(server.store().ReadVariable("w")->info.version, 1);
}

// A client that trickles a byte now and then makes progress in the idle
// limit's sense, but not at the floor rate: it is cancelled as well.
TEST(PushChunksLimitsTest, ATricklingStreamIsCancelledAndReleasesItsMemory) {
  ServerOptions options;
  options.stream_idle_limit = absl::Milliseconds(300);
  options.stream_min_bytes_per_second = 1 << 20;
  LimitedServer server;
  ASSERT_NO_FATAL_FAILURE(server.Start(options, "w", 1 << 20));
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  auto writer = server.OpenPush("w", &context, &response);
  // One byte every 50 ms: well inside the idle limit, far below the floor.
  const absl::Time start = absl::Now();
  int64_t sent = 0;
  while (absl::Now() - start < absl::Seconds(10) &&
         writer->Write(EncodePushChunk(nullptr, 0, sent, "x"))) {
    ++sent;
    absl::SleepFor(absl::Milliseconds(50));
  }
  const absl::Duration lasted = absl::Now() - start;
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(lasted, absl::Seconds(3)) << sent << " bytes sent";
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(server.store().reserved_bytes(), 0);
  EXPECT_EQ(server.store().ReadVariable("w")->info.version, 1);
}

// A request that would parse into far more memory than its size (here some
// 30 million empty items) is refused before it is parsed.
TEST_F(GrpcServiceTest, RequestsThatWouldParseIntoFarMoreMemoryAreRefused) {
  std::string empty_items;
  while (empty_items.size() < (size_t{60} << 20)) empty_items += std::string("\x0a\x00", 2);
  for (const char* method : {"/paramserver.rpc.ParameterServer/Pull",
                             "/paramserver.rpc.ParameterServer/Push"}) {
    const grpc::Status status = RawUnary(method, empty_items);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
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
