#ifndef PARAM_SERVER_WIRE_ZERO_COPY_WRITER_H_
#define PARAM_SERVER_WIRE_ZERO_COPY_WRITER_H_

// Messages that carry tensor bytes, encoded by hand so that the bytes are
// copied at most once on their way to gRPC. The bytes are exactly what the
// generated SerializeAsString would produce, so every generated peer parses
// them. The server's encoders of stored values (server/grpc_zero_copy.h)
// build on the primitives here; the client's push chunks are here whole.

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/parameter_server.pb.h"

namespace paramserver {

// Size in bytes of `value` as a varint.
size_t VarintSize(uint64_t value);

// Appends `value` as a varint to `out`.
void AppendVarint(uint64_t value, std::string* out);

// Appends the tag and length of a length-delimited field to `out`.
void AppendLengthPrefix(int field, size_t length, std::string* out);

// Size in bytes of a `bytes` field `field` holding `length` bytes: tag,
// length and content, or 0 when empty (generated code writes nothing).
size_t BytesFieldSize(int field, size_t length);

// Builds one serialized message out of copied bytes and slices it shares:
// bytes appended gather in a header slice until the next AppendSlice.
class WireWriter {
 public:
  // Appends already-serialized bytes (copied).
  void AppendRaw(absl::string_view bytes) {
    header_.append(bytes.data(), bytes.size());
  }
  void AppendVarint(uint64_t value) {
    paramserver::AppendVarint(value, &header_);
  }
  // The tag and length of a length-delimited field.
  void AppendLengthPrefix(int field, size_t length) {
    paramserver::AppendLengthPrefix(field, length, &header_);
  }
  // Appends `slice` as it is (sharing its bytes) after what came before.
  void AppendSlice(grpc::Slice slice);
  // The message so far; leaves the writer empty.
  grpc::ByteBuffer Finish();

 private:
  void FlushHeader();

  std::string header_;
  std::vector<grpc::Slice> slices_;
};

// Parses a request that arrived raw. INVALID_ARGUMENT when it does not parse
// ("Malformed paramserver.rpc.PullRequest."), or when parsing it would take
// far more memory than its size (CheckParseBudget), before parsing.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer,
                          google::protobuf::Message* message);

// Serializes a response to be sent raw, replacing what `buffer` held;
// INTERNAL when it cannot be (over protobuf's 2 GB limit).
absl::Status SerializeMessage(const google::protobuf::MessageLite& message,
                              grpc::ByteBuffer* buffer);

// One PushChunk: `request` (may be null) or bytes of update `index` at
// `offset`. The data is copied once, into a slice gRPC owns: the caller's
// memory need not outlive the call's buffers.
grpc::ByteBuffer EncodePushChunk(const rpc::PushRequest* request, int index,
                                 int64_t offset, absl::string_view data);
// The same with `data` sent as it is: a slice over memory lent to gRPC
// (wire/lent_bytes.h) goes to the socket without being copied.
grpc::ByteBuffer EncodePushChunkSharing(const rpc::PushRequest* request,
                                        int index, int64_t offset,
                                        grpc::Slice data);

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_ZERO_COPY_WRITER_H_
