// The handlers with their access checks, in process and without gRPC: each
// method against a TokenTable, and the checks that come before access.

#include "server/variable_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class VariableServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.max_variable_bytes = 1 << 10;
    options.max_total_bytes = 1 << 20;
    absl::StatusOr<std::unique_ptr<VariableStore>> store =
        VariableStore::Create(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<VariableService>(store_.get());
    absl::StatusOr<TokenTable> tokens =
        TokenTable::Parse("r reader\nw writer\na admin\nt0 admin tower0\n");
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    ASSERT_TRUE(GetVariable("a", "tower1/v", rpc::CREATE).ok());
    ASSERT_TRUE(GetVariable("a", "tower0/v", rpc::CREATE).ok());
  }

  Caller As(const std::string& token) const {
    return Caller(tokens_, token, "test");
  }

  absl::Status GetVariable(const std::string& token, const std::string& name,
                           rpc::ReuseMode reuse) {
    rpc::GetVariableRequest request;
    request.set_name(name);
    request.set_reuse(reuse);
    request.mutable_shape()->add_dims(3);
    rpc::GetVariableResponse response;
    return service_->GetVariable(As(token), request, &response);
  }

  absl::Status Read(const std::string& token, const std::string& name) {
    rpc::ReadVariableRequest request;
    request.set_name(name);
    rpc::ReadVariableResponse response;
    return service_->ReadVariable(As(token), request, &response);
  }

  absl::Status List(const std::string& token, const std::string& prefix) {
    rpc::ListVariablesRequest request;
    request.set_prefix(prefix);
    rpc::ListVariablesResponse response;
    return service_->ListVariables(As(token), request, &response);
  }

  absl::Status Pull(const std::string& token, const std::string& name) {
    rpc::PullRequest request;
    request.add_items()->set_name(name);
    return service_->Pull(As(token), request).status();
  }

  absl::Status PullChunks(const std::string& token, const std::string& name) {
    rpc::PullChunksRequest request;
    request.set_name(name);
    return service_->PullChunks(As(token), request).status();
  }

  static rpc::PushRequest AssignRequest(const std::string& name,
                                        size_t value_bytes) {
    rpc::PushRequest request;
    rpc::Update* update = request.add_updates();
    update->set_name(name);
    update->set_kind(rpc::Update::ASSIGN);
    update->set_value(std::string(value_bytes, '\0'));
    return request;
  }

  absl::Status Push(const std::string& token, const std::string& name) {
    rpc::PushResponse response;
    return service_->Push(As(token), AssignRequest(name, 12), &response);
  }

  absl::Status StartChunkedPush(const std::string& token,
                                const std::string& name) {
    return service_->StartChunkedPush(As(token), AssignRequest(name, 0))
        .status();
  }

  std::unique_ptr<VariableStore> store_;
  std::unique_ptr<VariableService> service_;
  TokenTable tokens_;
};

TEST_F(VariableServiceTest,
       GetVariableReadsWhenItOnlyReusesAndCreatesOtherwise) {
  EXPECT_TRUE(GetVariable("r", "tower1/v", rpc::REUSE).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(GetVariable("r", "x", rpc::CREATE)));
  EXPECT_TRUE(absl::IsPermissionDenied(GetVariable("r", "x", rpc::AUTO_REUSE)));
  EXPECT_TRUE(GetVariable("w", "x", rpc::CREATE).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(GetVariable("", "x", rpc::REUSE)));
}

TEST_F(VariableServiceTest, GetVariableChecksTheScopedName) {
  rpc::GetVariableRequest request;
  request.set_scope("tower1");
  request.set_name("w");
  request.mutable_shape()->add_dims(3);
  rpc::GetVariableResponse response;
  EXPECT_TRUE(absl::IsPermissionDenied(
      service_->GetVariable(As("t0"), request, &response)));
  request.set_scope("tower0");
  EXPECT_TRUE(service_->GetVariable(As("t0"), request, &response).ok());
  EXPECT_TRUE(response.created());
}

TEST_F(VariableServiceTest, ReadsNeedAReaderForTheName) {
  EXPECT_TRUE(Read("r", "tower1/v").ok());
  EXPECT_TRUE(Pull("r", "tower1/v").ok());
  EXPECT_TRUE(PullChunks("r", "tower1/v").ok());
  EXPECT_TRUE(List("r", "").ok());
  EXPECT_TRUE(Read("t0", "tower0/v").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Read("t0", "tower1/v")));
  EXPECT_TRUE(absl::IsPermissionDenied(Pull("t0", "tower1/v")));
  EXPECT_TRUE(absl::IsPermissionDenied(PullChunks("t0", "tower1/v")));
  EXPECT_TRUE(List("t0", "tower0").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(List("t0", "")));
  EXPECT_TRUE(absl::IsUnauthenticated(Read("nobody", "tower1/v")));
  EXPECT_TRUE(absl::IsUnauthenticated(Pull("nobody", "tower1/v")));
  EXPECT_TRUE(absl::IsUnauthenticated(PullChunks("nobody", "tower1/v")));
  EXPECT_TRUE(absl::IsUnauthenticated(List("nobody", "")));
  // Access is checked before the store is asked.
  EXPECT_TRUE(absl::IsPermissionDenied(Read("t0", "tower1/missing")));
  EXPECT_TRUE(absl::IsNotFound(Read("r", "tower1/missing")));
}

TEST_F(VariableServiceTest, PullInlinesUpTo64MiBUnlessTold) {
  rpc::PullRequest request;
  request.add_items()->set_name("tower1/v");
  absl::StatusOr<VariableService::PullReply> reply =
      service_->Pull(As("r"), request);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->results.size(), 1u);
  EXPECT_EQ(reply->results[0].info.name, "tower1/v");
  EXPECT_EQ(reply->max_inline_bytes, int64_t{64} << 20);
  request.set_max_inline_bytes(5);
  reply = service_->Pull(As("r"), request);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->max_inline_bytes, 5);
}

TEST_F(VariableServiceTest, PushesNeedAWriterForEveryName) {
  EXPECT_TRUE(Push("w", "tower1/v").ok());
  EXPECT_TRUE(StartChunkedPush("w", "tower1/v").ok());
  EXPECT_TRUE(Push("t0", "tower0/v").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Push("r", "tower1/v")));
  EXPECT_TRUE(absl::IsPermissionDenied(StartChunkedPush("r", "tower1/v")));
  EXPECT_TRUE(absl::IsPermissionDenied(Push("t0", "tower1/v")));
  EXPECT_TRUE(absl::IsPermissionDenied(StartChunkedPush("t0", "tower1/v")));
  EXPECT_TRUE(absl::IsUnauthenticated(Push("", "tower1/v")));
  EXPECT_TRUE(absl::IsUnauthenticated(StartChunkedPush("", "tower1/v")));
}

TEST_F(VariableServiceTest, TheUpdateCountIsCheckedBeforeAccess) {
  rpc::PushRequest request;
  for (size_t i = 0; i <= kMaxUpdatesPerPush; ++i) {
    request.add_updates()->set_name("tower1/v");
  }
  const std::string expected =
      absl::StrCat("at most ", kMaxUpdatesPerPush, " updates");
  rpc::PushResponse response;
  absl::Status pushed = service_->Push(As("r"), request, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(pushed)) << pushed;
  EXPECT_THAT(pushed.message(), HasSubstr(expected));
  absl::Status started = service_->StartChunkedPush(As("r"), request).status();
  EXPECT_TRUE(absl::IsInvalidArgument(started)) << started;
  EXPECT_THAT(started.message(), HasSubstr(expected));
}

TEST_F(VariableServiceTest, AChunkedPushReservesItsValues) {
  absl::StatusOr<VariableService::ChunkedPush> push =
      service_->StartChunkedPush(As("w"), AssignRequest("tower1/v", 4));
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_EQ(push->value_bytes, std::vector<size_t>{12});
  EXPECT_EQ(push->reservation.bytes(), 12u);
  // A header whose value already runs past its variable.
  absl::Status status =
      service_->StartChunkedPush(As("w"), AssignRequest("tower1/v", 13))
          .status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("would hold 13 bytes"));
}

TEST_F(VariableServiceTest, DeletesNeedAnAdminForTheTarget) {
  rpc::DeleteVariablesRequest request;
  rpc::DeleteVariablesResponse response;
  request.set_name("tower1/v");
  EXPECT_TRUE(absl::IsPermissionDenied(
      service_->DeleteVariables(As("w"), request, &response)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      service_->DeleteVariables(As("t0"), request, &response)));
  request.set_scope("tower0");
  EXPECT_TRUE(service_->DeleteVariables(As("t0"), request, &response).ok());
  EXPECT_THAT(response.deleted(), ::testing::ElementsAre("tower0/v"));
  // No target is the whole store: only an unlimited admin reaches it, and
  // then the request is still incomplete.
  request.Clear();
  EXPECT_TRUE(absl::IsPermissionDenied(
      service_->DeleteVariables(As("t0"), request, &response)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      service_->DeleteVariables(As("a"), request, &response)));
}

TEST_F(VariableServiceTest, WithoutTokensEveryCallIsAllowed) {
  rpc::DeleteVariablesRequest request;
  request.set_scope("");
  rpc::DeleteVariablesResponse response;
  EXPECT_TRUE(service_->DeleteVariables(Caller(), request, &response).ok());
  EXPECT_EQ(response.deleted_size(), 2);
}

}  // namespace
}  // namespace paramserver

namespace paramserver {
namespace {

using ::testing::HasSubstr;

// Every handler refuses a caller that expects this server elsewhere, before
// touching the store; the place is checked after the token.
TEST(VariableServicePlaceTest, RefusesACallerThatExpectsAnotherPlace) {
  absl::StatusOr<std::unique_ptr<VariableStore>> store =
      VariableStore::Create(StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  VariableService service(store->get(), {{"demo", 1, 3}, "inc"});
  rpc::GetVariableRequest create;
  create.set_name("v");
  create.set_reuse(rpc::AUTO_REUSE);
  create.mutable_shape()->add_dims(2);
  rpc::GetVariableResponse response;

  Caller misplaced;
  misplaced.set_expected_place(ShardPlace{"demo", 0, 3});
  absl::Status s = service.GetVariable(misplaced, create, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("lists it as shard 0 of 3"));
  Caller broken;
  broken.set_expected_place(absl::InvalidArgumentError("bad metadata"));
  EXPECT_EQ(service.GetVariable(broken, create, &response).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->num_variables(), 0u);

  Caller placed;
  placed.set_expected_place(ShardPlace{"", 1, 3});  // Any job.
  EXPECT_TRUE(service.GetVariable(placed, create, &response).ok());
  EXPECT_TRUE(service.GetVariable(Caller(), create, &response).ok());

  rpc::ServerInfoResponse info;
  ASSERT_TRUE(service.GetServerInfo(placed, {}, &info).ok());
  EXPECT_EQ(info.job(), "demo");
  EXPECT_EQ(info.shard_index(), 1);
  EXPECT_EQ(info.shard_count(), 3);
  EXPECT_EQ(info.incarnation(), "inc");
  EXPECT_EQ(info.num_variables(), 1);
  EXPECT_EQ(service.GetServerInfo(misplaced, {}, &info).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace paramserver
