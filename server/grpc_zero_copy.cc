#include "server/grpc_zero_copy.h"

#include <utility>

#include "wire/proto_convert.h"

namespace paramserver {
namespace {

void ReleaseBuffer(void* holder) {
  delete static_cast<std::shared_ptr<const TensorBuffer>*>(holder);
}

// The serialized PulledVariable without its value (the last field, so
// appending the value afterwards keeps generated code's field order).
std::string PulledVariableHead(const VariableStore::PullResult& result,
                               bool streamed) {
  rpc::PulledVariable head;
  ToProto(result.info, head.mutable_variable());
  head.set_unchanged(result.unchanged);
  head.set_streamed(streamed);
  return head.SerializeAsString();
}

}  // namespace

grpc::Slice ShareTensorBytes(std::shared_ptr<const TensorBuffer> buffer,
                             size_t offset, size_t length) {
  const char* data = buffer->data() + offset;
  auto* holder = new std::shared_ptr<const TensorBuffer>(std::move(buffer));
  // gRPC never writes through a slice it sends; the cast only fits its API.
  return grpc::Slice(const_cast<char*>(data), length, &ReleaseBuffer, holder);
}

void AppendSharedBytesField(int field,
                            const std::shared_ptr<const TensorBuffer>& buffer,
                            size_t offset, size_t length, WireWriter* writer) {
  if (length == 0) return;
  writer->AppendLengthPrefix(field, length);
  if (length < kMinSharedSliceBytes) {
    writer->AppendRaw(absl::string_view(buffer->data() + offset, length));
    return;
  }
  writer->AppendSlice(ShareTensorBytes(buffer, offset, length));
}

grpc::ByteBuffer EncodePullResponse(
    const std::vector<VariableStore::PullResult>& results,
    int64_t max_inline_bytes) {
  constexpr int kVariables = rpc::PullResponse::kVariablesFieldNumber;
  constexpr int kValue = rpc::PulledVariable::kValueFieldNumber;
  WireWriter writer;
  for (const VariableStore::PullResult& result : results) {
    const size_t size = result.value == nullptr ? 0 : result.value->size();
    const bool streamed = static_cast<int64_t>(size) > max_inline_bytes;
    const size_t inlined = streamed ? 0 : size;
    const std::string head = PulledVariableHead(result, streamed);
    writer.AppendLengthPrefix(kVariables,
                              head.size() + BytesFieldSize(kValue, inlined));
    writer.AppendRaw(head);
    AppendSharedBytesField(kValue, result.value, 0, inlined, &writer);
  }
  return writer.Finish();
}

grpc::ByteBuffer EncodeGatherRowsResponse(
    const VariableStore::GatherResult& gathered) {
  rpc::VariableInfo info;
  ToProto(gathered.info, &info);
  const std::string head = info.SerializeAsString();
  WireWriter writer;
  writer.AppendLengthPrefix(rpc::GatherRowsResponse::kVariableFieldNumber,
                            head.size());
  writer.AppendRaw(head);
  AppendSharedBytesField(rpc::GatherRowsResponse::kRowsFieldNumber,
                         gathered.rows, 0, gathered.rows->size(), &writer);
  return writer.Finish();
}

grpc::ByteBuffer EncodeValueChunk(
    const rpc::VariableInfo* variable, bool unchanged,
    const std::shared_ptr<const TensorBuffer>& value, size_t offset,
    size_t length) {
  rpc::ValueChunk head;
  if (variable != nullptr) *head.mutable_variable() = *variable;
  head.set_unchanged(unchanged);
  head.set_offset(static_cast<int64_t>(offset));
  WireWriter writer;
  writer.AppendRaw(head.SerializeAsString());
  AppendSharedBytesField(rpc::ValueChunk::kDataFieldNumber, value, offset,
                         length, &writer);
  return writer.Finish();
}

}  // namespace paramserver
