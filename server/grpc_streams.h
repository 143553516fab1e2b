#ifndef PARAM_SERVER_SERVER_GRPC_STREAMS_H_
#define PARAM_SERVER_SERVER_GRPC_STREAMS_H_

// The streaming RPCs: values of any size move in chunks, so neither gRPC's
// message limits nor protobuf's 2 GB cap ever reach users.

#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/variable_store.h"
#include "wire/channel_settings.h"  // Chunk sizes.

namespace paramserver {

// Cancels chunk streams that make no progress: a client that stalls after
// its first chunk would otherwise hold the memory its push reserved (or, for
// PullChunks, the snapshot it reads) for as long as it likes. A stream is
// cancelled (TryCancel: the client sees CANCELLED) and logged when
//  - it has not called Touch for `idle_limit`, or
//  - past its first `idle_limit`, it has moved fewer than
//    `min_bytes_per_second` bytes per second of its life since it was added
//    (0: no floor), so that a client sending a byte now and then cannot keep
//    a reservation either.
// An infinite limit turns the watchdog off. Thread-safe; one thread checks a
// few times per limit.
class StreamWatchdog {
 public:
  explicit StreamWatchdog(absl::Duration idle_limit,
                          int64_t min_bytes_per_second = 0);
  ~StreamWatchdog();  // Stops the thread; every stream must be removed.
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // `context` stays valid until Remove, which its reactor's OnDone calls.
  void Add(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream made progress: a chunk of `bytes` arrived or went out.
  void Touch(grpc::CallbackServerContext* context, size_t bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Progress {
    absl::Time added;
    absl::Time last;
    size_t bytes = 0;
  };
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void CancelIdleLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why the stream should be cancelled at `now`; empty when it should not.
  std::string CancelReason(const Progress& progress, absl::Time now) const;

  const absl::Duration idle_limit_;
  const int64_t min_bytes_per_second_;
  Mutex mu_;
  absl::flat_hash_map<grpc::CallbackServerContext*, Progress> streams_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Not started for an infinite limit.
};

// PullChunks (raw: a PullChunksRequest in, ValueChunks out): streams one
// snapshot of a variable. Deletes itself when done. Each reactor below checks
// the call's token against `tokens` (null: no authentication) as soon as it
// has decoded the names the call touches, and is watched by `watchdog`.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableStore* store, const TokenTable* tokens, StreamWatchdog* watchdog,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request);

// PushChunks (raw: PushChunks in, a PushResponse out): gathers a push from
// its chunks, then applies it as Push does. Deletes itself when done.
//
// The first chunk's request is checked whole before any value is buffered:
// access, the update count, repeated names, that every variable exists,
// kinds against dtypes, the optimizer; then the sum of the variables' sizes
// is reserved against the store's total limit (RESOURCE_EXHAUSTED when it
// does not fit). Data may not run past its variable's size. The push is
// applied only when the client half-closes the stream; a stream that ends
// otherwise (cancel, deadline, lost connection, idle watchdog) applies
// nothing.
grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableStore* store, const TokenTable* tokens, StreamWatchdog* watchdog,
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

// Session (raw: SessionRequests in, SessionResponses out): answers each
// request with one response, in order, until the client closes the stream.
// Deletes itself when done. A stream without a known token is refused at
// open (UNAUTHENTICATED), as the unary methods are; then each call is
// authorized on its own, and a denied call, or bytes that do not parse
// (INVALID_ARGUMENT), get their status in their response.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewSessionReactor(
    VariableStore* store, const TokenTable* tokens, SessionRegistry* registry,
    grpc::CallbackServerContext* context);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_STREAMS_H_
