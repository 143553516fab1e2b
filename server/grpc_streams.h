#ifndef PARAM_SERVER_SERVER_GRPC_STREAMS_H_
#define PARAM_SERVER_SERVER_GRPC_STREAMS_H_

// The streaming RPCs: values of any size move in chunks, so neither gRPC's
// message limits nor protobuf's 2 GB cap ever reach users.

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "server/mutex.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/variable_store.h"

namespace paramserver {

// Chunk sizes a client may ask for; 0 selects kDefaultChunkBytes.
inline constexpr int64_t kMinChunkBytes = 4 << 10;
inline constexpr int64_t kMaxChunkBytes = 16 << 20;
inline constexpr int64_t kDefaultChunkBytes = 1 << 20;

// PullChunks (raw: a PullChunksRequest in, ValueChunks out): streams one
// snapshot of a variable. Deletes itself when done. Each reactor below checks
// the call's token against `tokens` (null: no authentication) as soon as it
// has decoded the names the call touches.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableStore* store, const TokenTable* tokens,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request);

// PushChunks: gathers a push from its chunks, then applies it as Push does.
// Deletes itself when done. Access is checked on the first chunk's request.
// Raw: PushChunks in, a PushResponse out.
grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableStore* store, const TokenTable* tokens,
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response);

// The open sessions. A session only ends when its client closes it, so a
// server shutting down must cancel them, or it would wait out its whole grace
// period for clients that merely keep a session for their next call.
// Thread-safe.
class SessionRegistry {
 public:
  // False once CancelAll ran: the session must end at once.
  bool Add(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every open session and every later one.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Mutex mu_;
  // A context stays valid until its reactor's OnDone removes it.
  absl::flat_hash_set<grpc::CallbackServerContext*> open_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Session: answers each SessionRequest with one SessionResponse, in order,
// until the client closes the stream. Deletes itself when done. Each call is
// authorized on its own (a denied call gets its status in its response).
grpc::ServerBidiReactor<rpc::SessionRequest, rpc::SessionResponse>*
NewSessionReactor(VariableStore* store, const TokenTable* tokens,
                  SessionRegistry* registry,
                  grpc::CallbackServerContext* context);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_STREAMS_H_
