// A push over several shards retried with the same push id applies only the
// parts that were not applied: shards that applied theirs answer with their
// first answer.

#include <cstring>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/sharded_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc_server.h"
#include "server/test_server.h"

namespace paramserver {
namespace {

using ::testing::Each;

class ShardedPushIdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> targets;
    for (int i = 0; i < 2; ++i) {
      ServerOptions options;
      options.place = {"", i, 2};  // Shard i of the two.
      servers_.push_back(StartTestServer(options));
      ASSERT_NE(servers_.back(), nullptr);
      targets.push_back(servers_.back()->target());
    }
    auto client = ShardedClient::Connect(targets);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    // One variable on each shard.
    for (int i = 0; names_.size() < 2; ++i) {
      const std::string name = "s/v" + std::to_string(i);
      if (client_->ShardOf(name) != static_cast<int>(names_.size())) continue;
      VariableRequest request;
      request.name = name;
      request.shape = TensorShape{3};
      request.initializer.kind = InitializerKind::kZeros;
      ASSERT_TRUE(client_->GetVariable(request).ok());
      names_.push_back(name);
    }
  }

  PushSpec AddOnes(const std::string& id) {
    PushSpec push;
    push.push_id = id;
    for (const std::string& name : names_) {
      push.updates.push_back(
          {name, UpdateKind::kAssignAdd, ones_, std::nullopt});
    }
    return push;
  }

  std::vector<float> Values(const std::string& name) {
    auto read = client_->ReadVariable(name);
    EXPECT_TRUE(read.ok()) << read.status();
    std::vector<float> values(3);
    if (read.ok()) std::memcpy(values.data(), read->value.data(), 12);
    return values;
  }

  const float one_[3] = {1, 1, 1};
  const std::string ones_ =
      std::string(reinterpret_cast<const char*>(one_), sizeof(one_));
  std::vector<std::unique_ptr<GrpcServer>> servers_;
  std::unique_ptr<ShardedClient> client_;
  std::vector<std::string> names_;  // names_[i] lives on shard i.
};

TEST_F(ShardedPushIdTest, RetryAppliesOnlyTheMissingParts) {
  // The first attempt reached shard 0 only (shard 1 was unreachable).
  auto shard0 = ParameterServerClient::Connect(servers_[0]->target());
  ASSERT_TRUE(shard0.ok()) << shard0.status();
  PushSpec part = AddOnes("step-1");
  part.updates.resize(1);
  ASSERT_TRUE((*shard0)->Push(part).ok());
  // The retry of the whole push, same id: shard 1 applies, shard 0 does not.
  auto retried = client_->Push(AddOnes("step-1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ((*retried)[0].version, 2);
  EXPECT_EQ((*retried)[1].version, 2);
  EXPECT_THAT(Values(names_[0]), Each(1.f));
  EXPECT_THAT(Values(names_[1]), Each(1.f));
  // Again: nothing more anywhere.
  ASSERT_TRUE(client_->Push(AddOnes("step-1")).ok());
  EXPECT_THAT(Values(names_[0]), Each(1.f));
  EXPECT_THAT(Values(names_[1]), Each(1.f));
  // A new step applies on both.
  ASSERT_TRUE(client_->Push(AddOnes("step-2")).ok());
  EXPECT_THAT(Values(names_[0]), Each(2.f));
  EXPECT_THAT(Values(names_[1]), Each(2.f));
}

TEST_F(ShardedPushIdTest, WithoutAnIdEveryPushApplies) {
  ASSERT_TRUE(client_->Push(AddOnes("")).ok());
  ASSERT_TRUE(client_->Push(AddOnes("")).ok());
  EXPECT_THAT(Values(names_[0]), Each(2.f));
  EXPECT_THAT(Values(names_[1]), Each(2.f));
}

}  // namespace
}  // namespace paramserver
