// PullChunks and PushChunks over a real channel, as generated clients and
// hostile or unlucky ones drive them.

#include "server/grpc_chunk_streams.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "server/test_server.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {
namespace {

using ChunkStreamsTest = ServerWithVariableTest;

TEST_F(ChunkStreamsTest, GeneratedClientParsesPullChunks) {
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

// PushChunks, as a hostile or unlucky client drives it.
class PushChunksTest : public ChunkStreamsTest {
 protected:
  struct Stream {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer;
  };

  std::unique_ptr<Stream> Open(absl::Duration deadline = absl::Seconds(20)) {
    auto stream = std::make_unique<Stream>();
    stream->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServer/PushChunks",
        grpc::internal::RpcMethod::CLIENT_STREAMING);
    stream->writer.reset(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
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
  for (size_t i = 0; i <= kMaxUpdatesPerPush; ++i)
    too_many.add_updates()->set_name("v");
  rpc::PushRequest empty_updates;  // 30 million would be refused the same way.
  for (size_t i = 0; i < 3 * kMaxUpdatesPerPush; ++i)
    empty_updates.add_updates();
  for (const auto& [request, code, message] :
       {std::tuple{&repeated, grpc::StatusCode::INVALID_ARGUMENT,
                   "appears twice"},
        std::tuple{&missing, grpc::StatusCode::NOT_FOUND, "nowhere"},
        std::tuple{&too_many, grpc::StatusCode::INVALID_ARGUMENT,
                   "at most 65536"},
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

// Chunks may cut a value anywhere: inside an element, at odd addresses, after
// part of it came in the request. Every cut must give the same result as one
// contiguous value.
TEST_F(PushChunksTest, ValuesCutInsideElementsAreAppliedExactly) {
  constexpr int kElements = 300000;
  std::vector<float> value(kElements);
  for (int i = 0; i < kElements; ++i) value[i] = 0.25f * (i % 1001) - 100.0f;
  const absl::string_view bytes(reinterpret_cast<const char*>(value.data()),
                                value.size() * sizeof(float));
  const size_t cuts[] = {1, 3, 7, 4093, 2, 65537, 6, 100003, 5};
  for (const rpc::Update::Kind kind :
       {rpc::Update::ASSIGN, rpc::Update::ASSIGN_ADD,
        rpc::Update::APPLY_GRADIENT}) {
    absl::StatusOr<VariableSnapshot> before =
        server_->store().ReadVariable("v");
    ASSERT_TRUE(before.ok()) << before.status();
    std::vector<float> expected(kElements);
    std::memcpy(expected.data(), before->value->data(), bytes.size());
    for (int i = 0; i < kElements; ++i) {
      if (kind == rpc::Update::ASSIGN) expected[i] = value[i];
      if (kind == rpc::Update::ASSIGN_ADD) expected[i] += value[i];
      if (kind == rpc::Update::APPLY_GRADIENT) expected[i] -= 0.5f * value[i];
    }
    rpc::PushRequest request;
    rpc::Update* update = request.add_updates();
    update->set_name("v");
    update->set_kind(kind);
    update->set_value(std::string(bytes.substr(0, 5)));  // Part of a float.
    request.mutable_optimizer()->set_learning_rate(0.5);
    auto stream = Open();
    ASSERT_TRUE(stream->writer->Write(EncodePushChunk(&request, 0, 0, {})));
    size_t offset = 5;
    for (int i = 0; offset < bytes.size(); ++i) {
      const size_t length =
          std::min(cuts[i % std::size(cuts)], bytes.size() - offset);
      ASSERT_TRUE(stream->writer->Write(
          EncodePushChunk(nullptr, 0, offset, bytes.substr(offset, length))));
      offset += length;
    }
    stream->writer->WritesDone();
    const grpc::Status status = stream->writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    absl::StatusOr<VariableSnapshot> after = server_->store().ReadVariable("v");
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->info.version, before->info.version + 1);
    ASSERT_EQ(std::memcmp(after->value->data(), expected.data(), bytes.size()),
              0)
        << "kind " << kind;
  }
  EXPECT_EQ(server_->store().reserved_bytes(), 0);
}

// A server started with `options` (on a free port) holding one float32
// variable `name` of `elements`, and PushChunks streams to it.
class LimitedServer {
 public:
  void Start(ServerOptions options, const std::string& name, int64_t elements) {
    server_ = StartTestServer(std::move(options));
    ASSERT_NE(server_, nullptr);
    VariableRequest request;
    request.name = name;
    request.shape = TensorShape{elements};
    ASSERT_TRUE(server_->store().GetVariable(request).ok());
    channel_ = TestChannel(*server_);
  }

  // A PushChunks stream whose first chunk, the request pushing `name`, has
  // been written.
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> OpenPush(
      const std::string& name, grpc::ClientContext* context,
      grpc::ByteBuffer* response) {
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServer/PushChunks",
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
  ASSERT_NO_FATAL_FAILURE(
      server.Start(options, "big", 1 << 18));  // 1 MiB of 1.5.
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

}  // namespace
}  // namespace paramserver
