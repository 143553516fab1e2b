#include "client/value_sink.h"

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

// A reader over `bytes`, and the span of all of them.
struct Wire {
  explicit Wire(const std::string& bytes) {
    grpc::Slice slice(bytes);
    buffer = grpc::ByteBuffer(&slice, 1);
    reader.emplace(*WireReader::Create(buffer));
    span.length = bytes.size();
  }
  grpc::ByteBuffer buffer;
  std::optional<WireReader> reader;
  WireSpan span;
};

VariableInfo FloatVector(int64_t n) {
  return {"v", {n}, DType::kFloat, 1, true};
}

TEST(ValueSinkTest, FillsTheCallersBufferChunkByChunk) {
  std::vector<char> buffer(8, '-');
  ValueSink sink = ValueSink::IntoBuffer(absl::MakeSpan(buffer));
  ASSERT_TRUE(sink.Begin(FloatVector(2)).ok());
  Wire first("abcd"), second("efgh");
  ASSERT_TRUE(sink.Place(*first.reader, first.span, 0).ok());
  EXPECT_EQ(sink.received(), 4u);
  ASSERT_TRUE(sink.Place(*second.reader, second.span, 4).ok());
  EXPECT_EQ(sink.received(), sink.size());
  EXPECT_EQ(std::string(buffer.begin(), buffer.end()), "abcdefgh");
}

TEST(ValueSinkTest, ABufferOfAnotherSizeIsRefusedBeforeAnyByte) {
  std::vector<char> buffer(12, '-');
  ValueSink sink = ValueSink::IntoBuffer(absl::MakeSpan(buffer));
  const absl::Status status = sink.Begin(FloatVector(2));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "The buffer for v has 12 bytes; its value (shape (2,), float32) "
            "has 8.");
  EXPECT_EQ(std::string(buffer.begin(), buffer.end()), "------------");
}

TEST(ValueSinkTest, ABufferTakesChunksInOrderOnly) {
  std::vector<char> buffer(8);
  ValueSink sink = ValueSink::IntoBuffer(absl::MakeSpan(buffer));
  ASSERT_TRUE(sink.Begin(FloatVector(2)).ok());
  Wire chunk("efgh");
  const absl::Status status = sink.Place(*chunk.reader, chunk.span, 4);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(), "Chunk at offset 4 where offset 0 was due.");
}

TEST(ValueSinkTest, ChunksOutsideTheValueAreDataLoss) {
  std::vector<char> buffer(8);
  std::string value;
  for (ValueSink sink : {ValueSink::IntoBuffer(absl::MakeSpan(buffer)),
                         ValueSink::IntoString(&value)}) {
    ASSERT_TRUE(sink.Begin(FloatVector(2)).ok());
    Wire chunk("abcdefghi");  // One byte too many.
    EXPECT_EQ(sink.Place(*chunk.reader, chunk.span, 0).code(),
              absl::StatusCode::kDataLoss);
    Wire late("ab");
    EXPECT_EQ(sink.Place(*late.reader, late.span, 7).code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ(sink.Place(*late.reader, late.span, -1).code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(ValueSinkTest, AStringGrowsAndTakesChunksInAnyOrder) {
  std::string value = "stale";
  ValueSink sink = ValueSink::IntoString(&value);
  ASSERT_TRUE(sink.Begin(FloatVector(2)).ok());
  EXPECT_TRUE(value.empty());
  Wire second("efgh"), first("abcd");
  ASSERT_TRUE(sink.Place(*second.reader, second.span, 4).ok());
  ASSERT_TRUE(sink.Place(*first.reader, first.span, 0).ok());
  EXPECT_EQ(value, "abcdefgh");
  EXPECT_EQ(sink.received(), 8u);
}

}  // namespace
}  // namespace paramserver
