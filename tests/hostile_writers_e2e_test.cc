// A writer confined to `tower0`, trying what an authorised but hostile (or
// broken) client can: against the real server with tokens and a 64 MiB
// memory limit. After each attack an admin checks that nothing changed, and
// throughout, the server's resident memory must stay within kRssAllowance of
// --max_total_bytes.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/server_process.h"
#include "wire/zero_copy_writer.h"

extern char** environ;

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMaxTotalBytes = 64 << 20;
constexpr int64_t kMaxVariableBytes = 48 << 20;
// Resident memory allowed above --max_total_bytes: the process itself
// (gRPC, protobuf, abseil; about 20 MB idle) and what gRPC holds before the
// server sees it (one chunk message per stream and the streams' receive
// windows).
constexpr int64_t kRssAllowance = 96 << 20;
constexpr int64_t kBigElements = 6 << 20;  // tower0/big: 24 MiB of float32.
constexpr int64_t kChunkBytes = 1 << 20;

constexpr char kTokens[] =
    "admin-token admin\n"
    "reader-token reader\n"
    "tower0-token writer tower0\n";

// The server's VmRSS in bytes, or -1.
int64_t ResidentBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    int64_t kb = 0;
    std::string number = line.substr(6);
    number.erase(number.find("kB"));
    if (absl::SimpleAtoi(number, &kb)) return kb << 10;
  }
  return -1;
}

// Samples a process's resident memory every 10 ms, keeping the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid)
      : thread_([this, pid] {
          while (!stop_) {
            const int64_t rss = ResidentBytes(pid);
            if (rss > peak_) peak_ = rss;
            absl::SleepFor(absl::Milliseconds(10));
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  int64_t peak() const { return peak_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{0};
  std::thread thread_;
};

// AddressSanitizer keeps freed memory in quarantine (256 MB by default) and
// ThreadSanitizer keeps shadow memory for every byte touched (the server
// idles at about 195 MiB under it), so resident memory there measures the
// sanitizer, not the server's limits. The plain build checks the bound.
void ExpectWithinMemoryBound(int64_t peak_rss) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)peak_rss;
#else
  EXPECT_LT(peak_rss, kMaxTotalBytes + kRssAllowance);
#endif
}

class HostileWritersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tokens =
        std::string(std::getenv("TEST_TMPDIR")) + "/tokens";
    std::ofstream(tokens) << kTokens;
    auto server = ServerProcess::Start(
        {"--tokens_file=" + tokens,
         absl::StrCat("--max_total_bytes=", kMaxTotalBytes),
         absl::StrCat("--max_variable_bytes=", kMaxVariableBytes),
         "--stream_idle_seconds=2"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(
        server_->target(), grpc::InsecureChannelCredentials(), args);
    ClientOptions options;
    options.token = "admin-token";
    auto admin = ParameterServerClient::Connect(server_->target(), options);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
    Create("tower0/big", kBigElements);
    Create("tower0/w", 4);
    idle_rss_ = ResidentBytes(server_->pid());
  }

  void Create(const std::string& name, int64_t elements) {
    VariableRequest request;
    request.name = name;
    request.shape = TensorShape{elements};
    request.initializer.kind = InitializerKind::kZeros;
    ASSERT_TRUE(admin_->GetVariable(request).ok()) << name;
  }

  struct Stream {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer;
  };

  // A PushChunks stream with the tower0 token.
  std::unique_ptr<Stream> Open(absl::Duration deadline = absl::Seconds(30)) {
    auto stream = std::make_unique<Stream>();
    stream->context.AddMetadata("authorization", "Bearer tower0-token");
    stream->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::internal::RpcMethod method(
        "/paramserver.rpc.ParameterServer/PushChunks",
        grpc::internal::RpcMethod::CLIENT_STREAMING);
    stream->writer.reset(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel_.get(), method, &stream->context, &stream->response));
    return stream;
  }

  // Writes `bytes` zero bytes for update `index` in 1 MiB chunks until the
  // server stops taking them; returns how many went out.
  static int64_t SendData(Stream& stream, int index, int64_t bytes) {
    const std::string chunk(kChunkBytes, '\0');
    int64_t sent = 0;
    while (sent < bytes) {
      const int64_t length = std::min(kChunkBytes, bytes - sent);
      if (!stream.writer->Write(
              EncodePushChunk(nullptr, index, sent,
                              absl::string_view(chunk).substr(0, length)))) {
        break;
      }
      sent += length;
    }
    return sent;
  }

  static rpc::PushRequest AssignAddOnes(const std::string& name) {
    rpc::PushRequest request;
    request.add_updates()->set_name(name);
    request.mutable_updates(0)->set_kind(rpc::Update::ASSIGN_ADD);
    return request;
  }
  static std::string FourOnes() {
    const float ones[4] = {1, 1, 1, 1};
    return std::string(reinterpret_cast<const char*>(ones), sizeof(ones));
  }

  // An ASSIGN_ADD of ones to tower0/w, sent whole but not half-closed.
  bool SendWholeAssignAdd(Stream& stream) {
    const rpc::PushRequest request = AssignAddOnes("tower0/w");
    return stream.writer->Write(EncodePushChunk(&request, 0, 0, {})) &&
           stream.writer->Write(EncodePushChunk(nullptr, 0, 0, FourOnes()));
  }

  // What an admin sees: every variable with its version, and tower0/w's sum.
  std::string State() {
    auto listed = admin_->ListVariables("");
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::string state;
    for (const VariableInfo& info : *listed) {
      absl::StrAppend(&state, info.name, "@", info.version, " ");
    }
    auto w = admin_->ReadVariable("tower0/w");
    EXPECT_TRUE(w.ok()) << w.status();
    float sum = 0;
    for (size_t i = 0; w.ok() && i + 4 <= w->value.size(); i += 4) {
      float x;
      std::memcpy(&x, w->value.data() + i, 4);
      sum += x;
    }
    absl::StrAppend(&state, "sum(tower0/w)=", sum);
    return state;
  }

  // Waits up to `within` for tower0/w to change from `before`; returns
  // whether it did.
  bool StateChanges(const std::string& before, absl::Duration within) {
    const absl::Time end = absl::Now() + within;
    while (absl::Now() < end) {
      if (State() != before) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ParameterServerClient> admin_;
  int64_t idle_rss_ = 0;
};

TEST_F(HostileWritersTest, ARepeatedNameIsRefusedBeforeAnythingIsReserved) {
  const std::string before = State();
  RssSampler rss(server_->pid());
  rpc::PushRequest request;
  for (int i = 0; i < 50000; ++i) request.add_updates()->set_name("tower0/big");
  auto stream = Open();
  stream->writer->Write(EncodePushChunk(&request, 0, 0, {}));
  const grpc::Status status = stream->writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("tower0/big appears twice"));
  EXPECT_EQ(State(), before);
  std::printf("repeated name: idle RSS %ld MiB, peak %ld MiB\n",
              static_cast<long>(idle_rss_ >> 20),
              static_cast<long>(rss.peak() >> 20));
  ExpectWithinMemoryBound(rss.peak());
}

TEST_F(HostileWritersTest, BufferedBytesStayWithinTheMemoryLimit) {
  const std::string before = State();
  RssSampler rss(server_->pid());
  // 24 names that do not exist, then 48 MiB for the first: refused at the
  // first chunk, so next to nothing is taken.
  {
    rpc::PushRequest missing;
    for (int i = 0; i < 24; ++i) {
      missing.add_updates()->set_name(absl::StrCat("tower0/missing", i));
    }
    auto stream = Open();
    stream->writer->Write(EncodePushChunk(&missing, 0, 0, {}));
    SendData(*stream, 0, 48 << 20);
    const grpc::Status status = stream->writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr("tower0/missing0"));
  }
  // Four pushes of tower0/big at once, each sent in full and held open: the
  // store has 40 MiB left, so one is buffered (24 MiB) and the others are
  // refused at their first chunk.
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<std::thread> senders;
  std::vector<char> refused(4, false);
  for (int i = 0; i < 4; ++i) streams.push_back(Open());
  for (int i = 0; i < 4; ++i) {
    senders.emplace_back([&, i] {
      rpc::PushRequest big;
      big.add_updates()->set_name("tower0/big");
      streams[i]->writer->Write(EncodePushChunk(&big, 0, 0, {}));
      refused[i] =
          SendData(*streams[i], 0, kBigElements * 4) < kBigElements * 4;
    });
  }
  for (std::thread& sender : senders) sender.join();
  EXPECT_EQ(std::count(refused.begin(), refused.end(), true), 3);
  int resource_exhausted = 0;
  for (int i = 0; i < 4; ++i) {
    // The one that was taken is held open until cancelled here.
    if (!refused[i]) streams[i]->context.TryCancel();
    const grpc::Status status = streams[i]->writer->Finish();
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++resource_exhausted;
      EXPECT_THAT(status.error_message(), HasSubstr("bytes while it arrives"));
    }
  }
  EXPECT_EQ(resource_exhausted, 3);
  absl::SleepFor(absl::Milliseconds(300));  // The server sees the cancel.
  {  // More data than the variable holds is refused when it would overflow.
    auto stream = Open();
    rpc::PushRequest big;
    big.add_updates()->set_name("tower0/big");
    stream->writer->Write(EncodePushChunk(&big, 0, 0, {}));
    // Writes are buffered, so a few go out before the refusal arrives.
    EXPECT_LT(SendData(*stream, 0, 48 << 20), 48 << 20);
    const grpc::Status status = stream->writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("the variable has 25165824"));
  }
  EXPECT_EQ(State(), before);
  std::printf(
      "buffered data: idle RSS %ld MiB, peak %ld MiB (limit %ld MiB + %ld)\n",
      static_cast<long>(idle_rss_ >> 20), static_cast<long>(rss.peak() >> 20),
      static_cast<long>(kMaxTotalBytes >> 20),
      static_cast<long>(kRssAllowance >> 20));
  ExpectWithinMemoryBound(rss.peak());
  // The server still serves: an ordinary push of the big variable applies.
  PushSpec push;
  const std::string zeros(kBigElements * 4, '\0');
  push.updates = {{"tower0/big", UpdateKind::kAssignAdd, zeros, std::nullopt}};
  auto pushed = admin_->Push(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ((*pushed)[0].version, 2);
}

TEST_F(HostileWritersTest, OnlyAHalfClosedPushIsApplied) {
  const std::string before = State();
  {  // Past its deadline.
    auto stream = Open(absl::Seconds(1));
    ASSERT_TRUE(SendWholeAssignAdd(*stream));
    EXPECT_EQ(stream->writer->Finish().error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {  // Cancelled by the client.
    auto stream = Open();
    ASSERT_TRUE(SendWholeAssignAdd(*stream));
    absl::SleepFor(absl::Milliseconds(300));
    stream->context.TryCancel();
    EXPECT_EQ(stream->writer->Finish().error_code(),
              grpc::StatusCode::CANCELLED);
  }
  {  // The client process dies mid-stream.
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> argv = {"tests/stalled_push_client",
                                     server_->target(), "tower0-token",
                                     "tower0/w"};
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    pid_t child = 0;
    ASSERT_EQ(
        posix_spawn(&child, args[0], &actions, nullptr, args.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    char said[16] = {};
    ASSERT_GT(read(out[0], said, sizeof(said) - 1), 0);
    close(out[0]);
    EXPECT_STREQ(said, "sent\n");
    absl::SleepFor(absl::Milliseconds(300));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  EXPECT_FALSE(StateChanges(before, absl::Seconds(2))) << State();
  // The same push, half-closed, is applied once.
  auto stream = Open();
  ASSERT_TRUE(SendWholeAssignAdd(*stream));
  stream->writer->WritesDone();
  ASSERT_TRUE(stream->writer->Finish().ok());
  EXPECT_THAT(State(), HasSubstr("tower0/w@2 sum(tower0/w)=4"));
}

TEST_F(HostileWritersTest, AStalledStreamIsCancelledByTheIdleLimit) {
  const std::string before = State();
  auto stream = Open();
  rpc::PushRequest big;
  big.add_updates()->set_name("tower0/big");
  ASSERT_TRUE(stream->writer->Write(EncodePushChunk(&big, 0, 0, {})));
  const absl::Time start = absl::Now();
  // No more chunks: the server cancels the stream after 2-2.5 s.
  EXPECT_EQ(stream->writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(server_->Log(), HasSubstr("no progress for"));
  EXPECT_EQ(State(), before);
  // Its 24 MiB are free again (once the server's side of the stream has
  // ended, which may trail the client's CANCELLED): another push fits.
  grpc::Status status;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto again = Open();
    again->writer->Write(EncodePushChunk(&big, 0, 0, {}));
    SendData(*again, 0, kBigElements * 4);
    again->writer->WritesDone();
    status = again->writer->Finish();
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(HostileWritersTest, AFailedPushLeavesNoSlotsBehind) {
  auto writer = ParameterServerClient::Connect(
      server_->target(), ClientOptions{.token = "tower0-token"});
  ASSERT_TRUE(writer.ok());
  const std::string before = State();
  PushSpec push;
  push.optimizer.kind = OptimizerKind::kAdam;
  const std::string grad = FourOnes();
  push.updates = {{"tower0/w", UpdateKind::kApplyGradient, grad, std::nullopt},
                  {"tower0/missing", UpdateKind::kAssign, grad, std::nullopt}};
  EXPECT_TRUE(absl::IsNotFound((*writer)->Push(push).status()));
  EXPECT_EQ(State(), before);
}

// Unary requests are bounded by gRPC's 64 MiB message limit, but a request
// of empty repeated items would parse into some 30 times its size. Several
// at once, from a reader and a writer: each is refused before it is parsed.
TEST_F(HostileWritersTest, RequestsOfEmptyItemsAreRefusedBeforeParsing) {
  const std::string before = State();
  RssSampler rss(server_->pid());
  std::string empty_items;
  while (empty_items.size() < (size_t{60} << 20)) {
    empty_items += std::string("\x0a\x00", 2);
  }
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"/paramserver.rpc.ParameterServer/Push", "tower0-token"},
      {"/paramserver.rpc.ParameterServer/Pull", "reader-token"},
      {"/paramserver.rpc.ParameterServer/Push", "tower0-token"},
      {"/paramserver.rpc.ParameterServer/Pull", "reader-token"}};
  std::vector<grpc::Status> statuses(calls.size());
  std::vector<std::thread> callers;
  for (size_t i = 0; i < calls.size(); ++i) {
    callers.emplace_back([&, i] {
      grpc::internal::RpcMethod method(calls[i].first.c_str(),
                                       grpc::internal::RpcMethod::NORMAL_RPC);
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + calls[i].second);
      grpc::Slice slice(empty_items);
      grpc::ByteBuffer request(&slice, 1), response;
      statuses[i] =
          grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
              channel_.get(), method, &context, request, &response);
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (const grpc::Status& status : statuses) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("too many items"));
  }
  EXPECT_EQ(State(), before);
  std::printf("empty items: idle RSS %ld MiB, peak %ld MiB\n",
              static_cast<long>(idle_rss_ >> 20),
              static_cast<long>(rss.peak() >> 20));
  // gRPC holds each unary request whole before the server sees it, outside
  // --max_total_bytes: the four messages themselves (240 MiB) may be
  // resident at once, and nothing more than a little besides. Parsed, they
  // would have taken some 8 GB.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_LT(
      rss.peak() - idle_rss_,
      static_cast<int64_t>(calls.size() * empty_items.size()) + (48 << 20));
#endif
}

TEST_F(HostileWritersTest, AuthorizationEdges) {
  rpc::ListVariablesRequest list;
  rpc::ListVariablesResponse listed;
  auto stub = rpc::ParameterServer::NewStub(channel_);
  {  // Two authorization headers, reader then admin.
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer reader-token");
    context.AddMetadata("authorization", "Bearer admin-token");
    const grpc::Status status = stub->ListVariables(&context, list, &listed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {  // A session without a token is refused at open.
    auto sessions = rpc::ParameterServerSessions::NewStub(channel_);
    grpc::ClientContext context;
    auto session = sessions->Session(&context);
    rpc::SessionResponse response;
    EXPECT_FALSE(session->Read(&response));
    EXPECT_EQ(session->Finish().error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {  // Health answers without a token (probes carry none); nothing else does.
    grpc::internal::RpcMethod check("/grpc.health.v1.Health/Check",
                                    grpc::internal::RpcMethod::NORMAL_RPC);
    grpc::ClientContext context;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    EXPECT_TRUE(
        (grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
             channel_.get(), check, &context, request, &response))
            .ok());
    grpc::ClientContext no_token;
    EXPECT_EQ(stub->ListVariables(&no_token, list, &listed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

}  // namespace
}  // namespace paramserver
