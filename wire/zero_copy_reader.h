#ifndef PARAM_SERVER_WIRE_ZERO_COPY_READER_H_
#define PARAM_SERVER_WIRE_ZERO_COPY_READER_H_

// Decodes the messages that carry tensor bytes (PullResponse, ValueChunk,
// PushChunk) straight from the slices gRPC received: metadata is parsed, tensor
// bytes are located but not copied, so the caller copies them once, into place.
// Accepts anything a conformant protobuf writer may send (any field order,
// repeated scalar fields, unknown fields).

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/parameter_server.pb.h"

namespace paramserver {

// A run of bytes inside a WireReader's buffer.
struct WireSpan {
  size_t slice = 0;   // Index of the slice where the run starts.
  size_t offset = 0;  // Offset in that slice.
  size_t length = 0;
};

// Reads protobuf wire format across the slices of one ByteBuffer. Errors
// are DATA_LOSS ("Malformed message: ..."). Not thread-safe.
class WireReader {
 public:
  // Takes references to the buffer's slices; copies no bytes.
  static absl::StatusOr<WireReader> Create(const grpc::ByteBuffer& buffer);

  // Bytes not read yet.
  size_t remaining() const { return remaining_; }
  absl::Status ReadVarint(uint64_t* value);
  // Reads a length prefix and skips that many bytes, returning where they are.
  absl::Status ReadLengthDelimited(WireSpan* span);
  // Skips one field's value of `wire_type`.
  absl::Status SkipField(int wire_type);
  // Copies the bytes of `span` to `out`, which has room for span.length.
  void CopySpan(const WireSpan& span, char* out) const;
  // Appends the bytes of `span` to `out` (no zero-filling first).
  void AppendSpan(const WireSpan& span, std::string* out) const;
  // Like CopySpan, into a new string; for small metadata fields.
  std::string SpanToString(const WireSpan& span) const;

 private:
  explicit WireReader(std::vector<grpc::Slice> slices);
  // Moves the read position `length` bytes on; requires length <= remaining.
  void Advance(size_t length);

  std::vector<grpc::Slice> slices_;
  size_t slice_ = 0;   // Read position: slice index ...
  size_t offset_ = 0;  // ... and offset in it.
  size_t remaining_ = 0;
};

struct PulledVariableView {
  rpc::VariableInfo variable;
  bool unchanged = false;
  bool streamed = false;
  WireSpan value;
};

struct ValueChunkView {
  bool has_variable = false;
  rpc::VariableInfo variable;
  bool unchanged = false;
  int64_t offset = 0;
  WireSpan data;
};

struct PushChunkView {
  bool has_request = false;
  // The serialized PushRequest; several occurrences concatenate, which is
  // how protobuf merges them.
  std::string request;
  int32_t index = 0;
  int64_t offset = 0;
  WireSpan data;
};

// Errors are DATA_LOSS ("Malformed message: ...").
absl::StatusOr<PushChunkView> DecodePushChunk(WireReader& reader);
absl::StatusOr<std::vector<PulledVariableView>> DecodePullResponse(
    WireReader& reader);
absl::StatusOr<ValueChunkView> DecodeValueChunk(WireReader& reader);

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_ZERO_COPY_READER_H_
