// The client against a real in-process server on a loopback port: every call,
// its status codes and messages, and the value bytes.
#include "client/client.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "server/test_server.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer();
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(server_->target());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  static VariableRequest Request(std::string scope, std::string name,
                                 ReuseMode reuse, TensorShape shape) {
    VariableRequest request;
    request.scope = std::move(scope);
    request.name = std::move(name);
    request.reuse = reuse;
    request.shape = std::move(shape);
    return request;
  }

  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<ParameterServerClient> client_;
};

TEST_F(ClientTest, GetVariableReturnsMetadataAndValueBytes) {
  VariableRequest request = Request("foo", "v", ReuseMode::kCreate, {2, 2});
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {1.5};
  absl::StatusOr<FetchedVariable> v = client_->GetVariable(request, true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->created);
  EXPECT_EQ(v->info.name, "foo/v");
  EXPECT_EQ(v->info.shape, (TensorShape{2, 2}));
  EXPECT_EQ(v->info.version, 1);
  ASSERT_EQ(v->value.size(), 4 * sizeof(float));
  float values[4];
  std::memcpy(values, v->value.data(), sizeof(values));
  EXPECT_THAT(values, ElementsAre(1.5, 1.5, 1.5, 1.5));

  // Without return_value, no bytes travel.
  request.reuse = ReuseMode::kReuse;
  absl::StatusOr<FetchedVariable> meta = client_->GetVariable(request, false);
  ASSERT_TRUE(meta.ok());
  EXPECT_FALSE(meta->created);
  EXPECT_TRUE(meta->value.empty());
}

TEST_F(ClientTest, ServerErrorsArriveWithCodeAndMessage) {
  ASSERT_TRUE(
      client_->GetVariable(Request("foo", "v", ReuseMode::kCreate, {1})).ok());
  absl::Status again =
      client_->GetVariable(Request("foo", "v", ReuseMode::kCreate, {1}))
          .status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(),
            "Variable foo/v already exists, disallowed. Did you mean to set "
            "reuse=True or reuse=tf.AUTO_REUSE in VarScope?");
  absl::Status shape =
      client_->GetVariable(Request("foo", "v", ReuseMode::kReuse, {2}))
          .status();
  EXPECT_EQ(shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(shape.message(),
            "Trying to share variable foo/v, but specified shape (2,) and "
            "found shape (1,).");
}

TEST_F(ClientTest, ReadListAndDelete) {
  for (const char* name : {"a/x", "a/b/y", "a_1/z"}) {
    ASSERT_TRUE(
        client_->GetVariable(Request("", name, ReuseMode::kCreate, {3})).ok());
  }
  absl::StatusOr<FetchedVariable> read = client_->ReadVariable("a/x");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->value.size(), 3 * sizeof(float));
  EXPECT_EQ(client_->ReadVariable("a/q").status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<std::vector<VariableInfo>> listed =
      client_->ListVariables("a");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2);
  EXPECT_EQ((*listed)[0].name, "a/b/y");
  EXPECT_EQ((*listed)[1].name, "a/x");

  absl::StatusOr<std::vector<std::string>> deleted = client_->DeleteScope("a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_THAT(*deleted, ElementsAre("a/b/y", "a/x"));
  EXPECT_THAT(*client_->DeleteVariable("a_1/z"), ElementsAre("a_1/z"));
  EXPECT_EQ(client_->DeleteVariable("a_1/z").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_->ListVariables("")->empty());
}

TEST_F(ClientTest, PullAndPushSmallAndStreamedValues) {
#if defined(__SANITIZE_THREAD__)
  // Under TSan this in-process 5 MiB stream takes minutes (every byte the
  // uninstrumented gRPC hands over is checked); the plain and ASan runs cover
  // it, and TSan covers the data plane's concurrency in data_plane_e2e_test.
  GTEST_SKIP() << "too slow under ThreadSanitizer";
#endif
  // Over the 4 MiB inline limit, so both directions stream in chunks.
  constexpr int64_t kBig = (5 << 20) / sizeof(float) + 3;
  for (auto [name, elements] :
       {std::pair<const char*, int64_t>{"small", 3}, {"big", kBig}}) {
    VariableRequest request = Request("", name, ReuseMode::kCreate, {elements});
    request.initializer.kind = InitializerKind::kZeros;
    ASSERT_TRUE(client_->GetVariable(request).ok());
  }
  std::vector<float> big(kBig);
  for (int64_t i = 0; i < kBig; ++i) big[i] = static_cast<float>(i % 1000);
  const std::vector<float> small = {1, 2, 3};
  PushSpec push;
  push.updates = {
      {"small", UpdateKind::kAssign,
       absl::string_view(reinterpret_cast<const char*>(small.data()), 12),
       std::nullopt},
      {"big", UpdateKind::kAssignAdd,
       absl::string_view(reinterpret_cast<const char*>(big.data()), kBig * 4),
       std::nullopt}};
  absl::StatusOr<std::vector<VariableInfo>> pushed = client_->Push(push);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ((*pushed)[1].version, 2);

  absl::StatusOr<std::vector<PulledValue>> pulled =
      client_->Pull({{"small", 0}, {"big", 0}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ASSERT_EQ((*pulled)[1].value.size(), kBig * sizeof(float));
  EXPECT_EQ(std::memcmp((*pulled)[1].value.data(), big.data(), kBig * 4), 0);
  EXPECT_EQ((*pulled)[0].value,
            std::string(reinterpret_cast<const char*>(small.data()), 12));

  // Up to date: nothing travels.
  absl::StatusOr<std::vector<PulledValue>> again =
      client_->Pull({{"small", 2}, {"big", 2}});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)[0].unchanged && (*again)[1].unchanged);
  EXPECT_TRUE((*again)[1].value.empty());
}

TEST_F(ClientTest, PullIntoFillsTheCallersBuffersAndLeavesCurrentOnesAlone) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "too slow under ThreadSanitizer (see above)";
#endif
  constexpr int64_t kBig = (5 << 20) / sizeof(float) + 3;  // Streamed.
  std::vector<float> big(kBig);
  for (int64_t i = 0; i < kBig; ++i) big[i] = static_cast<float>(i % 997);
  for (auto [name, elements] :
       {std::pair<const char*, int64_t>{"small", 3}, {"big", kBig}}) {
    VariableRequest request = Request("", name, ReuseMode::kCreate, {elements});
    request.initializer.kind = InitializerKind::kConstant;
    request.initializer.values = {2.5};
    ASSERT_TRUE(client_->GetVariable(request).ok());
  }
  PushSpec push;
  push.updates = {{"big", UpdateKind::kAssign,
                   absl::string_view(reinterpret_cast<const char*>(big.data()),
                                     kBig * sizeof(float)),
                   std::nullopt}};
  ASSERT_TRUE(client_->Push(push).ok());

  // The worker's own copy of the model, reused from step to step.
  std::vector<float> small_copy(3, -1), big_copy(kBig, -1);
  const auto items = [&](int64_t small_known, int64_t big_known) {
    return std::vector<PullIntoItem>{
        {"small", small_known,
         absl::MakeSpan(reinterpret_cast<char*>(small_copy.data()),
                        small_copy.size() * sizeof(float))},
        {"big", big_known,
         absl::MakeSpan(reinterpret_cast<char*>(big_copy.data()),
                        big_copy.size() * sizeof(float))}};
  };
  absl::StatusOr<std::vector<PulledInto>> pulled =
      client_->PullInto(items(0, 0));
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ASSERT_EQ(pulled->size(), 2u);
  EXPECT_EQ((*pulled)[0].info.name, "small");
  EXPECT_EQ((*pulled)[1].info.version, 2);
  EXPECT_FALSE((*pulled)[1].unchanged);
  EXPECT_THAT(small_copy, ElementsAre(2.5, 2.5, 2.5));
  EXPECT_EQ(big_copy, big);

  // Current versions: nothing travels and the buffers are not touched.
  std::fill(big_copy.begin(), big_copy.end(), -7.0f);
  pulled = client_->PullInto(items(1, 2));
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_TRUE((*pulled)[0].unchanged && (*pulled)[1].unchanged);
  EXPECT_EQ(big_copy[0], -7.0f);
  EXPECT_EQ(big_copy[kBig - 1], -7.0f);
}

TEST_F(ClientTest, PullIntoABufferOfAnotherSizeIsInvalidArgument) {
  ASSERT_TRUE(
      client_->GetVariable(Request("", "v", ReuseMode::kCreate, {4})).ok());
  std::vector<char> short_buffer(12, 'x');
  const PullIntoItem item{"v", 0, absl::MakeSpan(short_buffer)};
  absl::Status status = client_->PullInto({&item, 1}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "The buffer for v has 12 bytes; its value (shape (4,), float32) "
            "has 16.");
  EXPECT_EQ(std::string(short_buffer.begin(), short_buffer.end()),
            std::string(12, 'x'));
  // Also when the value is current and nothing would be written.
  const PullIntoItem current{"v", 1, absl::MakeSpan(short_buffer)};
  EXPECT_EQ(client_->PullInto({&current, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const PullIntoItem missing{"nope", 0, absl::MakeSpan(short_buffer)};
  EXPECT_EQ(client_->PullInto({&missing, 1}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, AStreamedPushIsDoneWithTheCallersMemoryWhenItReturns) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "too slow under ThreadSanitizer (see above)";
#endif
  // The values are lent to gRPC, not copied: once Push returns, success or
  // not, the caller may free them (ASan would see gRPC touch freed memory).
  constexpr int64_t kBig = (6 << 20) / sizeof(float);
  VariableRequest request = Request("", "big", ReuseMode::kCreate, {kBig});
  request.initializer.kind = InitializerKind::kZeros;
  ASSERT_TRUE(client_->GetVariable(request).ok());
  for (const char* target : {"big", "missing"}) {
    auto value = std::make_unique<std::vector<float>>(kBig, 1.0f);
    PushSpec push;
    push.updates = {
        {target, UpdateKind::kAssignAdd,
         absl::string_view(reinterpret_cast<const char*>(value->data()),
                           kBig * sizeof(float)),
         std::nullopt}};
    absl::StatusOr<std::vector<VariableInfo>> pushed = client_->Push(push);
    value.reset();
    EXPECT_EQ(pushed.ok(), std::string(target) == "big") << pushed.status();
  }
  absl::StatusOr<FetchedVariable> read = client_->ReadVariable("big");
  ASSERT_TRUE(read.ok());
  float last;
  std::memcpy(&last, read->value.data() + read->value.size() - sizeof(float),
              sizeof(float));
  EXPECT_EQ(last, 1.0f);
}

TEST_F(ClientTest, PushErrorsKeepTheirCodes) {
  ASSERT_TRUE(
      client_->GetVariable(Request("", "v", ReuseMode::kCreate, {2})).ok());
  PushSpec push;
  push.updates = {{"v", UpdateKind::kAssign, "abc", std::nullopt}};
  absl::Status status = client_->Push(push).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Value for v has 3 bytes; shape (2,) and dtype float32 need 8.");
  EXPECT_EQ(client_->Pull({{"missing", 0}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.timeout = absl::Seconds(2);
  server_->Shutdown(absl::ZeroDuration());
  auto client = ParameterServerClient::Connect(server_->target(), options);
  ASSERT_TRUE(client.ok());
  absl::Status status = (*client)->ListVariables("").status();
  EXPECT_TRUE(status.code() == absl::StatusCode::kUnavailable ||
              status.code() == absl::StatusCode::kDeadlineExceeded)
      << status;
}

}  // namespace
}  // namespace paramserver
