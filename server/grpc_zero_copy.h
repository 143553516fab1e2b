#ifndef PARAM_SERVER_SERVER_GRPC_ZERO_COPY_H_
#define PARAM_SERVER_SERVER_GRPC_ZERO_COPY_H_

// Responses that carry stored tensor bytes, encoded by hand so that gRPC
// sends the bytes straight from the store's TensorBuffer: each message is a
// few small header slices plus slices that point into the buffer (as
// TensorFlow's grpc_tensor_coding.cc does). The bytes are exactly what the
// generated SerializeAsString would produce, so every generated client
// parses them. What both sides encode is in wire/zero_copy_writer.h.

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/parameter_server.pb.h"
#include "server/tensor_buffer.h"
#include "server/variable_store.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {

// Values up to this size are copied into the header slice: a copy of a few
// KB costs less than the allocations that share a buffer.
inline constexpr size_t kMinSharedSliceBytes = 4 << 10;

// A slice over bytes [offset, offset + length) of `buffer` that keeps the
// buffer alive until gRPC releases the slice. Requires the range to lie
// inside the buffer.
grpc::Slice ShareTensorBytes(std::shared_ptr<const TensorBuffer> buffer,
                             size_t offset, size_t length);

// Appends a `bytes` field holding bytes [offset, offset + length) of
// `buffer`, shared rather than copied unless shorter than
// kMinSharedSliceBytes. Like generated code, writes nothing for an empty
// value.
void AppendSharedBytesField(int field,
                            const std::shared_ptr<const TensorBuffer>& buffer,
                            size_t offset, size_t length, WireWriter* writer);

// PullResponse for `results`: values larger than `max_inline_bytes` are
// marked streamed and not sent, as the Pull RPC specifies.
grpc::ByteBuffer EncodePullResponse(
    const std::vector<VariableStore::PullResult>& results,
    int64_t max_inline_bytes);

// GatherRowsResponse for `gathered`, the rows shared rather than copied.
grpc::ByteBuffer EncodeGatherRowsResponse(
    const VariableStore::GatherResult& gathered);

// One ValueChunk carrying bytes [offset, offset + length) of `value`, which
// may be null when length is 0. `first` chunks carry the metadata.
grpc::ByteBuffer EncodeValueChunk(
    const rpc::VariableInfo* variable, bool unchanged,
    const std::shared_ptr<const TensorBuffer>& value, size_t offset,
    size_t length);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_ZERO_COPY_H_
