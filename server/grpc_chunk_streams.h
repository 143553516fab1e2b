#ifndef PARAM_SERVER_SERVER_GRPC_CHUNK_STREAMS_H_
#define PARAM_SERVER_SERVER_GRPC_CHUNK_STREAMS_H_

// The chunk streams: values of any size move in chunks, so neither gRPC's
// message limits nor protobuf's 2 GB cap ever reach users. The reactors run
// the streams; what a call means is VariableService's
// (server/variable_service.h).

#include <grpcpp/grpcpp.h>

#include "server/auth.h"
#include "server/push_buffer_pool.h"
#include "server/stream_watchdog.h"
#include "server/variable_service.h"

namespace paramserver {

// PullChunks (raw: a PullChunksRequest in, ValueChunks out): streams one
// snapshot of a variable. Deletes itself when done. Each reactor below
// authenticates its call against `tokens` (null: no authentication), checks
// that the caller has a known token before it parses anything, has
// `service` check the rest as soon as it has decoded the names the call
// touches, and is watched by `watchdog`. `service`, `tokens` and `watchdog`
// must outlive the call.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableService* service, const TokenTable* tokens,
    StreamWatchdog* watchdog, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* request);

// PushChunks (raw: PushChunks in, a PushResponse out): gathers a push from
// its chunks, then applies it as Push does. Deletes itself when done.
//
// The first chunk's request is checked whole before any value is buffered
// (VariableService::StartChunkedPush: access, the update count, repeated
// names, that every variable exists, kinds against dtypes, the optimizer,
// then memory for every value is reserved). Data may not run past its
// variable's size. The push is applied only when the client half-closes the
// stream; a stream that ends otherwise (cancel, deadline, lost connection,
// idle watchdog) applies nothing. Values are gathered in buffers from
// `buffers`, which get them back when the stream ends.
grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableService* service, const TokenTable* tokens,
    StreamWatchdog* watchdog, PushBufferPool* buffers,
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_CHUNK_STREAMS_H_
