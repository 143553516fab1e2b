#include "wire/zero_copy_writer.h"

#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "wire/parse_budget.h"

namespace paramserver {
namespace {

using google::protobuf::internal::WireFormatLite;

uint32_t LengthDelimitedTag(int field) {
  return WireFormatLite::MakeTag(field,
                                 WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

}  // namespace

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendLengthPrefix(int field, size_t length, std::string* out) {
  AppendVarint(LengthDelimitedTag(field), out);
  AppendVarint(length, out);
}

size_t BytesFieldSize(int field, size_t length) {
  if (length == 0) return 0;
  return VarintSize(LengthDelimitedTag(field)) + VarintSize(length) + length;
}

void WireWriter::AppendSlice(grpc::Slice slice) {
  FlushHeader();
  slices_.push_back(std::move(slice));
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
  grpc::Status status =
      grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(
          message, buffer, &own_buffer);
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("Could not serialize ",
                                          message.GetTypeName(), ": ",
                                          status.error_message()));
}

grpc::ByteBuffer EncodePushChunk(const rpc::PushRequest* request, int index,
                                 int64_t offset, absl::string_view data) {
  return EncodePushChunkSharing(
      request, index, offset,
      data.empty() ? grpc::Slice() : grpc::Slice(data.data(), data.size()));
}

grpc::ByteBuffer EncodePushChunkSharing(const rpc::PushRequest* request,
                                        int index, int64_t offset,
                                        grpc::Slice data) {
  rpc::PushChunk head;
  if (request != nullptr) *head.mutable_request() = *request;
  head.set_index(index);
  head.set_offset(offset);
  WireWriter writer;
  writer.AppendRaw(head.SerializeAsString());
  if (data.size() > 0) {
    writer.AppendLengthPrefix(rpc::PushChunk::kDataFieldNumber, data.size());
    writer.AppendSlice(std::move(data));
  }
  return writer.Finish();
}

}  // namespace paramserver
