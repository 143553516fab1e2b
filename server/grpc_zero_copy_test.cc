#include "server/grpc_zero_copy.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "wire/flatten_for_test.h"
#include "wire/proto_convert.h"
#include "wire/zero_copy_reader.h"

namespace paramserver {
namespace {

std::shared_ptr<const TensorBuffer> Filled(size_t size, char seed) {
  std::shared_ptr<TensorBuffer> buffer = *TensorBuffer::Allocate(size);
  for (size_t i = 0; i < size; ++i)
    buffer->data()[i] = static_cast<char>(seed + i * 7);
  return buffer;
}

VariableStore::PullResult Result(const std::string& name, int64_t elements,
                                 std::shared_ptr<const TensorBuffer> value,
                                 bool unchanged = false) {
  VariableStore::PullResult result;
  result.info.name = name;
  result.info.shape = {elements};
  result.info.dtype = DType::kFloat;
  result.info.version = 3;
  result.info.trainable = true;
  result.value = std::move(value);
  result.unchanged = unchanged;
  return result;
}

// What generated code produces for the same results.
rpc::PullResponse Expected(
    const std::vector<VariableStore::PullResult>& results, int64_t max_inline) {
  rpc::PullResponse response;
  for (const VariableStore::PullResult& result : results) {
    rpc::PulledVariable* out = response.add_variables();
    ToProto(result.info, out->mutable_variable());
    out->set_unchanged(result.unchanged);
    if (result.value == nullptr) continue;
    if (static_cast<int64_t>(result.value->size()) > max_inline) {
      out->set_streamed(true);
    } else {
      out->set_value(result.value->data(), result.value->size());
    }
  }
  return response;
}

TEST(EncodePullResponseTest, MatchesGeneratedSerialization) {
  std::vector<VariableStore::PullResult> results = {
      Result("small", 4, Filled(16, 1)),
      Result("big", 1 << 14, Filled(size_t{4} << 14, 2)),
      Result("same", 8, nullptr, /*unchanged=*/true),
      Result("empty", 0, Filled(0, 3)),
      Result("huge", 1 << 16, Filled(size_t{4} << 16, 4)),
  };
  const int64_t max_inline = int64_t{4} << 15;
  const std::string encoded = Flatten(EncodePullResponse(results, max_inline));
  const rpc::PullResponse expected = Expected(results, max_inline);
  EXPECT_EQ(encoded, expected.SerializeAsString());
  rpc::PullResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(encoded));
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());
  ASSERT_EQ(parsed.variables_size(), 5);
  EXPECT_EQ(parsed.variables(1).value().size(), size_t{4} << 14);
  EXPECT_TRUE(parsed.variables(4).streamed());
  EXPECT_TRUE(parsed.variables(4).value().empty());
}

TEST(EncodePullResponseTest, LargeValuesAreSharedNotCopied) {
  std::shared_ptr<const TensorBuffer> value = Filled(1 << 20, 5);
  const char* const data = value->data();
  grpc::ByteBuffer buffer =
      EncodePullResponse({Result("v", 1 << 18, value)}, 1 << 30);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(buffer.Dump(&slices).ok());
  bool shared = false;
  for (const grpc::Slice& slice : slices) {
    shared |= reinterpret_cast<const char*>(slice.begin()) == data &&
              slice.size() == value->size();
  }
  EXPECT_TRUE(shared);
  // The message holds the buffer alive after the store lets go of it.
  std::weak_ptr<const TensorBuffer> weak = value;
  value.reset();
  EXPECT_FALSE(weak.expired());
  buffer.Clear();
  slices.clear();
  EXPECT_TRUE(weak.expired());
}

TEST(EncodeValueChunkTest, MatchesGeneratedSerialization) {
  std::shared_ptr<const TensorBuffer> value = Filled(100000, 6);
  rpc::VariableInfo info;
  info.set_name("conv1/weights");
  info.mutable_shape()->add_dims(25000);
  info.set_dtype(rpc::DT_FLOAT);
  info.set_version(9);
  for (const auto& [with_info, offset, length] :
       std::vector<std::tuple<bool, size_t, size_t>>{{true, 0, 65536},
                                                     {false, 65536, 34464},
                                                     {false, 99990, 10},
                                                     {true, 0, 0}}) {
    rpc::ValueChunk expected;
    if (with_info) *expected.mutable_variable() = info;
    expected.set_offset(offset);
    expected.set_data(value->data() + offset, length);
    const std::string encoded = Flatten(EncodeValueChunk(
        with_info ? &info : nullptr, false, value, offset, length));
    EXPECT_EQ(encoded, expected.SerializeAsString()) << offset;
    rpc::ValueChunk parsed;
    ASSERT_TRUE(parsed.ParseFromString(encoded));
    EXPECT_EQ(parsed.data(), expected.data());
    EXPECT_EQ(parsed.offset(), static_cast<int64_t>(offset));
    EXPECT_EQ(parsed.has_variable(), with_info);
  }
}

TEST(EncodeValueChunkTest, UnchangedWithoutValue) {
  rpc::VariableInfo info;
  info.set_name("v");
  rpc::ValueChunk parsed;
  ASSERT_TRUE(parsed.ParseFromString(
      Flatten(EncodeValueChunk(&info, true, nullptr, 0, 0))));
  EXPECT_TRUE(parsed.unchanged());
  EXPECT_EQ(parsed.variable().name(), "v");
  EXPECT_TRUE(parsed.data().empty());
}

TEST(ZeroCopyRoundTripTest, ReaderDecodesWhatTheEncoderWrites) {
  std::vector<VariableStore::PullResult> results = {
      Result("a", 1 << 12, Filled(size_t{4} << 12, 7)),
      Result("b", 2, Filled(8, 8)),
  };
  grpc::ByteBuffer buffer = EncodePullResponse(results, 1 << 30);
  absl::StatusOr<WireReader> reader = WireReader::Create(buffer);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::vector<PulledVariableView>> views =
      DecodePullResponse(*reader);
  ASSERT_TRUE(views.ok()) << views.status();
  ASSERT_EQ(views->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*views)[i].variable.name(), results[i].info.name);
    std::string value((*views)[i].value.length, '\0');
    reader->CopySpan((*views)[i].value, value.data());
    EXPECT_EQ(value,
              std::string(results[i].value->data(), results[i].value->size()));
  }
}

}  // namespace
}  // namespace paramserver
