#ifndef PARAM_SERVER_SERVER_GRPC_STREAMS_H_
#define PARAM_SERVER_SERVER_GRPC_STREAMS_H_

// The streaming RPCs: values of any size move in chunks, so neither gRPC's
// message limits nor protobuf's 2 GB cap ever reach users.

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/variable_store.h"

namespace paramserver {

// Chunk sizes a client may ask for; 0 selects kDefaultChunkBytes.
inline constexpr int64_t kMinChunkBytes = 4 << 10;
inline constexpr int64_t kMaxChunkBytes = 16 << 20;
inline constexpr int64_t kDefaultChunkBytes = 1 << 20;

// PullChunks: streams one snapshot of a variable. Deletes itself when done.
grpc::ServerWriteReactor<rpc::ValueChunk>* NewPullChunksReactor(
    VariableStore* store, const rpc::PullChunksRequest* request);

// PushChunks: gathers a push from its chunks, then applies it as Push does.
// Deletes itself when done.
grpc::ServerReadReactor<rpc::PushChunk>* NewPushChunksReactor(
    VariableStore* store, rpc::PushResponse* response);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_STREAMS_H_
