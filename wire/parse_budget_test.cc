#include "wire/parse_budget.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.pb.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

size_t Estimate(const google::protobuf::Descriptor& type,
                const std::string& bytes) {
  google::protobuf::io::ArrayInputStream input(bytes.data(),
                                               static_cast<int>(bytes.size()));
  return EstimateParseBytes(type, &input);
}

absl::Status Check(const google::protobuf::Descriptor& type,
                   const std::string& bytes) {
  google::protobuf::io::ArrayInputStream input(bytes.data(),
                                               static_cast<int>(bytes.size()));
  return CheckParseBudget(type, bytes.size(), &input);
}

// The estimate is an upper bound of what the parse really takes, for the
// shapes of request that cost the most per byte.
TEST(ParseBudgetTest, EstimateBoundsWhatTheParseTakes) {
  rpc::PushRequest empty_updates;
  for (int i = 0; i < 10000; ++i) empty_updates.add_updates();
  rpc::PushRequest named_updates;
  for (int i = 0; i < 10000; ++i) {
    rpc::Update* update = named_updates.add_updates();
    update->set_name("tower0/conv1/weights_" + std::to_string(i));
    update->set_value(std::string(40, 'x'));
  }
  rpc::PullRequest items;
  for (int i = 0; i < 10000; ++i) items.add_items()->set_name("v");
  rpc::GetVariableRequest dims;
  for (int i = 0; i < 10000; ++i) dims.mutable_shape()->add_dims(1);
  rpc::GetVariableRequest values;
  for (int i = 0; i < 10000; ++i) values.mutable_initializer()->add_values(0.5);
  for (const google::protobuf::Message* message :
       std::initializer_list<const google::protobuf::Message*>{
           &empty_updates, &named_updates, &items, &dims, &values}) {
    const std::string bytes = message->SerializeAsString();
    std::unique_ptr<google::protobuf::Message> parsed(message->New());
    ASSERT_TRUE(parsed->ParseFromString(bytes));
    EXPECT_GE(Estimate(*message->GetDescriptor(), bytes),
              parsed->SpaceUsedLong())
        << message->GetTypeName();
  }
}

TEST(ParseBudgetTest, UnknownFieldsAreCounted) {
  // Field 31 is not in PullRequest: 3 bytes on the wire, a record in memory.
  std::string bytes;
  for (int i = 0; i < 10000; ++i) bytes += std::string("\xf8\x01\x00", 3);
  rpc::PullRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_GE(Estimate(*rpc::PullRequest::descriptor(), bytes),
            parsed.SpaceUsedLong());
}

TEST(ParseBudgetTest, RefusesARequestOfEmptyItems) {
  // 64 MiB of empty updates: some 33 million Update objects if parsed.
  std::string bytes;
  bytes.reserve(size_t{64} << 20);
  while (bytes.size() < (size_t{64} << 20)) bytes += std::string("\x0a\x00", 2);
  const absl::Status status = Check(*rpc::PushRequest::descriptor(), bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("paramserver.rpc.PushRequest of 67108864 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("too many items"));
}

TEST(ParseBudgetTest, RefusesUnpackedOneByteNumbersOnlyWhenHuge) {
  // Packed int64 dims of one byte each become eight bytes each.
  rpc::TensorShape shape;
  for (int i = 0; i < 1000; ++i) shape.add_dims(1);
  EXPECT_TRUE(
      Check(*rpc::TensorShape::descriptor(), shape.SerializeAsString()).ok());
  for (int i = 0; i < 10'000'000; ++i) shape.add_dims(1);
  EXPECT_EQ(
      Check(*rpc::TensorShape::descriptor(), shape.SerializeAsString()).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ParseBudgetTest, AcceptsTheLargestRequestsTheProtocolMeans) {
  // A push of 65,536 updates, each with a name, a base version and a value.
  rpc::PushRequest push;
  for (int i = 0; i < 65536; ++i) {
    rpc::Update* update = push.add_updates();
    update->set_name("model/tower_" + std::to_string(i) + "/dense/kernel");
    update->set_base_version(i);
    update->set_value(std::string(16, 'x'));
  }
  EXPECT_TRUE(
      Check(*rpc::PushRequest::descriptor(), push.SerializeAsString()).ok());
  // A 60 MiB value, and a constant initializer of 6 million doubles.
  rpc::PushRequest big;
  big.add_updates()->set_value(std::string(size_t{60} << 20, 'x'));
  EXPECT_TRUE(
      Check(*rpc::PushRequest::descriptor(), big.SerializeAsString()).ok());
  rpc::GetVariableRequest init;
  for (int i = 0; i < 6'000'000; ++i)
    init.mutable_initializer()->add_values(0.25);
  EXPECT_TRUE(
      Check(*rpc::GetVariableRequest::descriptor(), init.SerializeAsString())
          .ok());
}

TEST(ParseBudgetTest, MalformedBytesEndTheWalk) {
  // A length that runs past the end: the walk stops, the parse will refuse.
  const std::string bytes("\x0a\x7f\x01", 3);
  EXPECT_TRUE(Check(*rpc::PushRequest::descriptor(), bytes).ok());
  EXPECT_FALSE(rpc::PushRequest().ParseFromString(bytes));
  // Lengths of 4 GB that are not there cost nothing: a string field, an
  // unknown field and packed numbers.
  for (const std::string& huge :
       {std::string("\x0a\xff\xff\xff\xff\x0f", 6),
        std::string("\xfa\x01\xff\xff\xff\xff\x0f", 7)}) {
    EXPECT_LT(Estimate(*rpc::PullItem::descriptor(), huge), 1024);
    EXPECT_TRUE(Check(*rpc::PullItem::descriptor(), huge).ok());
  }
  EXPECT_LT(Estimate(*rpc::TensorShape::descriptor(),
                     std::string("\x0a\xff\xff\xff\xff\x0f", 6)),
            1024);
}

}  // namespace
}  // namespace paramserver
