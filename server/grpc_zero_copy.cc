#include "server/grpc_zero_copy.h"

#include <utility>

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"
#include "server/parse_budget.h"
#include "server/proto_convert.h"

namespace paramserver {
namespace {

constexpr int kWireTypeLengthDelimited = 2;

// Field numbers of the messages encoded here (proto/parameter_server.proto).
constexpr int kPullResponseVariables = 1;
constexpr int kPulledVariableValue = 4;
constexpr int kValueChunkData = 4;
constexpr int kPushChunkData = 4;

void AppendVarintTo(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void ReleaseBuffer(void* holder) {
  delete static_cast<std::shared_ptr<const TensorBuffer>*>(holder);
}

// The serialized PulledVariable without its value (field 4, the last field,
// so appending the value afterwards keeps generated code's field order).
std::string PulledVariableHead(const VariableStore::PullResult& result,
                               bool streamed) {
  rpc::PulledVariable head;
  ToProto(result.info, head.mutable_variable());
  head.set_unchanged(result.unchanged);
  head.set_streamed(streamed);
  return head.SerializeAsString();
}

size_t BytesFieldSize(int field, size_t length) {
  if (length == 0) return 0;
  return VarintSize(static_cast<uint64_t>(field) << 3) + VarintSize(length) +
         length;
}

}  // namespace

grpc::Slice ShareTensorBytes(std::shared_ptr<const TensorBuffer> buffer,
                             size_t offset, size_t length) {
  const char* data = buffer->data() + offset;
  auto* holder = new std::shared_ptr<const TensorBuffer>(std::move(buffer));
  // gRPC never writes through a slice it sends; the cast only fits its API.
  return grpc::Slice(const_cast<char*>(data), length, &ReleaseBuffer, holder);
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer,
                          google::protobuf::Message* message) {
  // Each reader consumes its buffer; a copy shares the slices, not the bytes.
  {
    grpc::ByteBuffer copy(buffer);
    grpc::ProtoBufferReader reader(&copy);
    if (reader.status().ok()) {
      absl::Status s =
          CheckParseBudget(*message->GetDescriptor(), buffer.Length(), &reader);
      if (!s.ok()) return s;
    }
  }
  grpc::ByteBuffer copy(buffer);
  grpc::ProtoBufferReader reader(&copy);
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Malformed ", message->GetTypeName(), "."));
  }
  return absl::OkStatus();
}

absl::Status SerializeMessage(const google::protobuf::MessageLite& message,
                              grpc::ByteBuffer* buffer) {
  buffer->Clear();  // gRPC's writer needs an empty buffer.
  bool own_buffer;
  grpc::Status status = grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(
      message, buffer, &own_buffer);
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("Could not serialize ",
                                          message.GetTypeName(), ": ",
                                          status.error_message()));
}

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

void WireWriter::AppendVarint(uint64_t value) { AppendVarintTo(value, &header_); }

void WireWriter::AppendLengthPrefix(int field, size_t length) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | kWireTypeLengthDelimited);
  AppendVarint(length);
}

void WireWriter::AppendSharedBytesField(
    int field, const std::shared_ptr<const TensorBuffer>& buffer, size_t offset,
    size_t length) {
  if (length == 0) return;
  AppendLengthPrefix(field, length);
  if (length < kMinSharedSliceBytes) {
    header_.append(buffer->data() + offset, length);
    return;
  }
  FlushHeader();
  slices_.push_back(ShareTensorBytes(buffer, offset, length));
}

void WireWriter::FlushHeader() {
  if (header_.empty()) return;
  slices_.emplace_back(header_);
  header_.clear();
}

grpc::ByteBuffer WireWriter::Finish() {
  FlushHeader();
  grpc::ByteBuffer buffer(slices_.data(), slices_.size());
  slices_.clear();
  return buffer;
}

grpc::ByteBuffer EncodePullResponse(
    const std::vector<VariableStore::PullResult>& results,
    int64_t max_inline_bytes) {
  WireWriter writer;
  for (const VariableStore::PullResult& result : results) {
    const size_t size = result.value == nullptr ? 0 : result.value->size();
    const bool streamed = static_cast<int64_t>(size) > max_inline_bytes;
    const size_t inlined = streamed ? 0 : size;
    const std::string head = PulledVariableHead(result, streamed);
    writer.AppendLengthPrefix(
        kPullResponseVariables,
        head.size() + BytesFieldSize(kPulledVariableValue, inlined));
    writer.AppendRaw(head);
    writer.AppendSharedBytesField(kPulledVariableValue, result.value, 0, inlined);
  }
  return writer.Finish();
}

grpc::ByteBuffer EncodeValueChunk(const rpc::VariableInfo* variable,
                                  bool unchanged,
                                  const std::shared_ptr<const TensorBuffer>& value,
                                  size_t offset, size_t length) {
  rpc::ValueChunk head;
  if (variable != nullptr) *head.mutable_variable() = *variable;
  head.set_unchanged(unchanged);
  head.set_offset(static_cast<int64_t>(offset));
  WireWriter writer;
  writer.AppendRaw(head.SerializeAsString());
  writer.AppendSharedBytesField(kValueChunkData, value, offset, length);
  return writer.Finish();
}

grpc::ByteBuffer EncodePushChunk(const rpc::PushRequest* request, int index,
                                 int64_t offset, absl::string_view data) {
  rpc::PushChunk head;
  if (request != nullptr) *head.mutable_request() = *request;
  head.set_index(index);
  head.set_offset(offset);
  std::string bytes = head.SerializeAsString();
  if (!data.empty()) {
    AppendVarintTo((kPushChunkData << 3) | kWireTypeLengthDelimited, &bytes);
    AppendVarintTo(data.size(), &bytes);
  }
  grpc::Slice slices[2] = {grpc::Slice(bytes),
                           grpc::Slice(data.data(), data.size())};
  return grpc::ByteBuffer(slices, data.empty() ? 1 : 2);
}

}  // namespace paramserver
