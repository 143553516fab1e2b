#include "wire/zero_copy_writer.h"

#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "wire/flatten_for_test.h"
#include "wire/zero_copy_reader.h"

namespace paramserver {
namespace {

TEST(EncodePushChunkTest, MatchesGeneratedAndDecodes) {
  rpc::PushRequest request;
  request.add_updates()->set_name("w");
  request.mutable_optimizer()->set_learning_rate(0.5);
  const std::string data(70000, 'd');
  for (const auto& [with_request, index, offset, bytes] :
       std::vector<std::tuple<bool, int, int64_t, std::string>>{
           {true, 0, 0, ""}, {false, 3, 1 << 20, data}, {false, 0, 0, "xy"}}) {
    rpc::PushChunk expected;
    if (with_request) *expected.mutable_request() = request;
    expected.set_index(index);
    expected.set_offset(offset);
    expected.set_data(bytes);
    grpc::ByteBuffer buffer = EncodePushChunk(with_request ? &request : nullptr,
                                              index, offset, bytes);
    EXPECT_EQ(Flatten(buffer), expected.SerializeAsString());

    absl::StatusOr<WireReader> reader = WireReader::Create(buffer);
    ASSERT_TRUE(reader.ok());
    absl::StatusOr<PushChunkView> view = DecodePushChunk(*reader);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(view->has_request, with_request);
    if (with_request) {
      rpc::PushRequest parsed;
      ASSERT_TRUE(parsed.ParseFromString(view->request));
      EXPECT_EQ(parsed.updates(0).name(), "w");
      EXPECT_EQ(parsed.optimizer().learning_rate(), 0.5);
    }
    EXPECT_EQ(view->index, index);
    EXPECT_EQ(view->offset, offset);
    std::string copied;
    reader->AppendSpan(view->data, &copied);
    EXPECT_EQ(copied, bytes);
  }
}

TEST(WireWriterTest, KeepsOrderAcrossSlicesAndEmptiesOnFinish) {
  WireWriter writer;
  writer.AppendRaw("ab");
  writer.AppendVarint(300);
  writer.AppendSlice(grpc::Slice(std::string("shared")));
  writer.AppendLengthPrefix(1, 2);
  writer.AppendRaw("xy");
  EXPECT_EQ(Flatten(writer.Finish()), std::string("ab\xac\x02"
                                                  "shared"
                                                  "\x0a\x02"
                                                  "xy",
                                                  14));
  EXPECT_EQ(Flatten(writer.Finish()), "");
}

TEST(BytesFieldSizeTest, MatchesGeneratedSize) {
  for (size_t length : {0, 1, 127, 128, 16383, 16384, 70000}) {
    rpc::ValueChunk chunk;
    chunk.set_data(std::string(length, 'b'));
    EXPECT_EQ(BytesFieldSize(rpc::ValueChunk::kDataFieldNumber, length),
              chunk.ByteSizeLong())
        << length;
  }
  // A field number past 15 takes a two-byte tag.
  EXPECT_EQ(BytesFieldSize(16, 1), 2u + 1 + 1);
}

TEST(ParseRequestTest, RejectsGarbage) {
  const std::string garbage = "\x0a\xff\xff\xff\xff\x0f";
  grpc::Slice slice(garbage.data(), garbage.size());
  grpc::ByteBuffer buffer(&slice, 1);
  rpc::PullRequest request;
  absl::Status status = ParseRequest(buffer, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("PullRequest"), std::string::npos);

  rpc::PullRequest good;
  good.add_items()->set_name("x");
  const std::string bytes = good.SerializeAsString();
  grpc::Slice good_slice(bytes.data(), bytes.size());
  grpc::ByteBuffer good_buffer(&good_slice, 1);
  ASSERT_TRUE(ParseRequest(good_buffer, &request).ok());
  EXPECT_EQ(request.items(0).name(), "x");
}

}  // namespace
}  // namespace paramserver
