#include "wire/zero_copy_reader.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

// `bytes` as a ByteBuffer cut at the given offsets (empty slices included).
grpc::ByteBuffer Cut(const std::string& bytes, std::vector<size_t> cuts) {
  std::vector<grpc::Slice> slices;
  size_t start = 0;
  cuts.push_back(bytes.size());
  for (size_t cut : cuts) {
    slices.emplace_back(bytes.data() + start, cut - start);
    start = cut;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Copy(const WireReader& reader, const WireSpan& span) {
  std::string out(span.length, '\0');
  reader.CopySpan(span, out.data());
  return out;
}

rpc::PullResponse SampleResponse() {
  rpc::PullResponse response;
  rpc::PulledVariable* a = response.add_variables();
  a->mutable_variable()->set_name("scope/a");
  a->mutable_variable()->mutable_shape()->add_dims(3);
  a->mutable_variable()->set_version(300);
  a->set_value(
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12));
  rpc::PulledVariable* b = response.add_variables();
  b->mutable_variable()->set_name("b");
  b->set_unchanged(true);
  rpc::PulledVariable* c = response.add_variables();
  c->mutable_variable()->set_name("c");
  c->set_streamed(true);
  return response;
}

TEST(DecodePullResponseTest, AnySlicingDecodesTheSame) {
  const rpc::PullResponse response = SampleResponse();
  const std::string bytes = response.SerializeAsString();
  for (size_t i = 0; i <= bytes.size(); ++i) {
    for (size_t j = i; j <= bytes.size(); j += 5) {
      absl::StatusOr<WireReader> reader =
          WireReader::Create(Cut(bytes, {i, j}));
      ASSERT_TRUE(reader.ok());
      absl::StatusOr<std::vector<PulledVariableView>> views =
          DecodePullResponse(*reader);
      ASSERT_TRUE(views.ok()) << i << "," << j << ": " << views.status();
      ASSERT_EQ(views->size(), 3u);
      EXPECT_EQ((*views)[0].variable.SerializeAsString(),
                response.variables(0).variable().SerializeAsString());
      EXPECT_EQ(Copy(*reader, (*views)[0].value),
                response.variables(0).value());
      EXPECT_TRUE((*views)[1].unchanged);
      EXPECT_FALSE((*views)[1].streamed);
      EXPECT_EQ((*views)[1].value.length, 0u);
      EXPECT_TRUE((*views)[2].streamed);
      EXPECT_EQ((*views)[2].variable.name(), "c");
    }
  }
}

TEST(DecodePullResponseTest, SkipsUnknownFieldsAndAcceptsAnyOrder) {
  // PulledVariable with value (4) before variable (1), plus unknown fields of
  // every wire type.
  std::string inner;
  inner += "\x22\x02hi";                  // value "hi"
  inner += "\x28\x96\x01";                // field 5 varint
  inner += "\x31" + std::string(8, 'x');  // field 6 fixed64
  inner += "\x3d" + std::string(4, 'y');  // field 7 fixed32
  inner += "\x0a\x03\x0a\x01v";           // variable{name:"v"}
  std::string bytes =
      "\x0a" + std::string(1, static_cast<char>(inner.size())) + inner;
  bytes += "\x12\x01z";  // PullResponse field 2, unknown.
  absl::StatusOr<WireReader> reader = WireReader::Create(Cut(bytes, {3}));
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::vector<PulledVariableView>> views =
      DecodePullResponse(*reader);
  ASSERT_TRUE(views.ok()) << views.status();
  ASSERT_EQ(views->size(), 1u);
  EXPECT_EQ((*views)[0].variable.name(), "v");
  EXPECT_EQ(Copy(*reader, (*views)[0].value), "hi");
}

TEST(DecodeValueChunkTest, DecodesGeneratedChunks) {
  rpc::ValueChunk chunk;
  chunk.mutable_variable()->set_name("w");
  chunk.mutable_variable()->set_dtype(rpc::DT_DOUBLE);
  chunk.set_offset(int64_t{5} << 33);
  chunk.set_data(std::string(3000, 'q'));
  const std::string bytes = chunk.SerializeAsString();
  absl::StatusOr<WireReader> reader =
      WireReader::Create(Cut(bytes, {1, 10, 100, 2000}));
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<ValueChunkView> view = DecodeValueChunk(*reader);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_TRUE(view->has_variable);
  EXPECT_EQ(view->variable.name(), "w");
  EXPECT_EQ(view->variable.dtype(), rpc::DT_DOUBLE);
  EXPECT_EQ(view->offset, int64_t{5} << 33);
  EXPECT_EQ(Copy(*reader, view->data), chunk.data());
  std::string appended = "head";
  reader->AppendSpan(view->data, &appended);
  EXPECT_EQ(appended, "head" + chunk.data());

  rpc::ValueChunk bare;
  bare.set_data("abc");
  reader = WireReader::Create(Cut(bare.SerializeAsString(), {}));
  view = DecodeValueChunk(*reader);
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->has_variable);
  EXPECT_EQ(view->offset, 0);
  EXPECT_EQ(Copy(*reader, view->data), "abc");
}

TEST(DecodeValueChunkTest, EmptyMessageIsAnEmptyChunk) {
  absl::StatusOr<WireReader> reader = WireReader::Create(grpc::ByteBuffer());
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<ValueChunkView> view = DecodeValueChunk(*reader);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->data.length, 0u);
}

// What a conformant writer may send: the request in two occurrences (which
// merge), a field repeated (the last wins), unknown fields, any order.
TEST(DecodePushChunkTest, DecodesAnyFieldOrder) {
  rpc::PushChunk first;
  first.mutable_request()->add_updates()->set_name("a");
  first.set_index(1);
  rpc::PushChunk second;
  second.mutable_request()->set_max_staleness(9);
  second.set_data(std::string(3000, 'p'));
  second.set_index(4);
  second.set_offset(int64_t{3} << 40);
  std::string bytes = second.SerializeAsString();
  bytes += "\x2d\x01\x02\x03\x04";  // Field 5, fixed32: unknown.
  bytes = first.SerializeAsString() + bytes;
  absl::StatusOr<WireReader> reader =
      WireReader::Create(Cut(bytes, {1, 7, 100, 2000}));
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<PushChunkView> view = DecodePushChunk(*reader);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_TRUE(view->has_request);
  rpc::PushRequest request;
  ASSERT_TRUE(request.ParseFromString(view->request));
  EXPECT_EQ(request.updates(0).name(), "a");
  EXPECT_EQ(request.max_staleness(), 9);
  EXPECT_EQ(view->index, 4);
  EXPECT_EQ(view->offset, int64_t{3} << 40);
  EXPECT_EQ(Copy(*reader, view->data), second.data());

  reader = WireReader::Create(grpc::ByteBuffer());
  view = DecodePushChunk(*reader);
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->has_request);
  EXPECT_EQ(view->index, 0);
  EXPECT_EQ(view->data.length, 0u);
}

TEST(DecodePushChunkTest, MalformedInputIsDataLoss) {
  const std::vector<std::string> cases = {
      std::string("\x22\x05", 2) + "abc",  // length beyond the end
      std::string("\x10", 1),              // truncated index
      std::string("\x10\x01\x20\x01", 4),  // data as a varint
      std::string("\x12\x00", 2),          // index as bytes
      std::string("\x08\x01", 2),          // request as a varint
      std::string("\x0a\x05"
                  "ab",
                  4),              // request beyond the end
      std::string("\x00\x01", 2),  // field number 0
  };
  for (const std::string& bytes : cases) {
    absl::StatusOr<WireReader> reader = WireReader::Create(Cut(bytes, {1}));
    ASSERT_TRUE(reader.ok());
    absl::Status status = DecodePushChunk(*reader).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss)
        << absl::CEscape(bytes);
    EXPECT_TRUE(absl::StartsWith(status.message(), "Malformed message: "))
        << status;
  }
}

TEST(WireReaderTest, MalformedInputIsDataLoss) {
  const std::vector<std::string> cases = {
      std::string("\x22\x05", 2) + "abc",  // length beyond the end
      std::string("\x18", 1),              // truncated varint field
      std::string("\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                  12),                     // 11-byte varint
      std::string("\x20\x01", 2),          // data as a varint
      std::string("\x0b", 1),              // group start (wire type 3)
      std::string("\x00\x01", 2),          // field number 0
      std::string("\x0a\x02\x0a\x05", 4),  // VariableInfo overrun
      std::string("\x0d\x01\x02", 3),      // truncated fixed32
  };
  for (const std::string& bytes : cases) {
    absl::StatusOr<WireReader> reader = WireReader::Create(Cut(bytes, {1}));
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ(DecodeValueChunk(*reader).status().code(),
              absl::StatusCode::kDataLoss)
        << absl::CEscape(bytes);
  }
  // A PulledVariable whose fields run past its declared length.
  const std::string overrun("\x0a\x02\x22\x05hello", 9);
  absl::StatusOr<WireReader> reader = WireReader::Create(Cut(overrun, {}));
  EXPECT_EQ(DecodePullResponse(*reader).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace paramserver
