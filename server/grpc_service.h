#ifndef PARAM_SERVER_SERVER_GRPC_SERVICE_H_
#define PARAM_SERVER_SERVER_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/grpc_streams.h"
#include "server/variable_store.h"

namespace paramserver {

// tf.get_variable over the wire, shared by the unary RPC and sessions.
absl::Status HandleGetVariable(VariableStore& store,
                               const rpc::GetVariableRequest& request,
                               rpc::GetVariableResponse* response);

// GetVariable reads when it only reuses (reuse=REUSE) and may create
// otherwise; the name it touches is scope/name. OK when `tokens` is null.
absl::Status CheckGetVariableAccess(const TokenTable* tokens,
                                    const grpc::ServerContextBase& context,
                                    const rpc::GetVariableRequest& request);

// Push and PushChunks write every variable their updates name.
absl::Status CheckPushAccess(const TokenTable* tokens,
                             const grpc::ServerContextBase& context,
                             const rpc::PushRequest& request);

// ParameterServerSessions: small calls over long-lived streams, with the
// same semantics as the unary RPCs. Registered raw (server/grpc_raw_call.h).
// Thread-safe; `store` and `tokens` must outlive it. A null `tokens` turns
// authentication off.
class SessionService final : public rpc::ParameterServerSessions::
                                 WithRawCallbackMethod_Session<
                                     rpc::ParameterServerSessions::Service> {
 public:
  SessionService(VariableStore* store, const TokenTable* tokens)
      : store_(store), tokens_(tokens) {}

  // Requests: SessionRequest; responses: SessionResponse.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Session(
      grpc::CallbackServerContext* context) override;

  // Ends every session, open or later; for shutdown (see SessionRegistry).
  void CancelAll() { registry_.CancelAll(); }

 private:
  VariableStore* const store_;
  const TokenTable* const tokens_;
  SessionRegistry registry_;
};

// Every method is registered raw, so that each parses its own request and
// answers bytes that do not parse with INVALID_ARGUMENT
// (server/grpc_raw_call.h). Pull and PullChunks also encode their responses
// by hand (server/grpc_zero_copy.h) so tensor bytes go to gRPC without a
// copy; PushChunks copies chunk bytes from gRPC's slices straight into the
// update's value.
using ParameterServerBase = rpc::ParameterServer::WithRawCallbackMethod_GetVariable<
    rpc::ParameterServer::WithRawCallbackMethod_ReadVariable<
        rpc::ParameterServer::WithRawCallbackMethod_ListVariables<
            rpc::ParameterServer::WithRawCallbackMethod_DeleteVariables<
                rpc::ParameterServer::WithRawCallbackMethod_Pull<
                    rpc::ParameterServer::WithRawCallbackMethod_PullChunks<
                        rpc::ParameterServer::WithRawCallbackMethod_Push<
                            rpc::ParameterServer::WithRawCallbackMethod_PushChunks<
                                rpc::ParameterServer::Service>>>>>>>>;

// The gRPC face of a VariableStore: converts messages and statuses, nothing
// more. All semantics live in the store. Every handler first checks the
// call's token against `tokens` (server/grpc_auth.h); null `tokens` turns
// authentication off. Chunk streams that make no progress for
// `stream_idle_limit`, or move fewer than `stream_min_bytes_per_second` past
// it, are cancelled (StreamWatchdog). Thread-safe; `store`
// and `tokens` must outlive the service.
class ParameterServerService final : public ParameterServerBase {
 public:
  explicit ParameterServerService(
      VariableStore* store, const TokenTable* tokens = nullptr,
      absl::Duration stream_idle_limit = absl::InfiniteDuration(),
      int64_t stream_min_bytes_per_second = 0)
      : store_(store),
        tokens_(tokens),
        sessions_(store, tokens),
        watchdog_(stream_idle_limit, stream_min_bytes_per_second) {}

  // The companion service, to be registered on the same server.
  SessionService* sessions() { return &sessions_; }

  // Each request and response below is the message the method's name says,
  // serialized.
  grpc::ServerUnaryReactor* GetVariable(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReadVariable(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListVariables(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteVariables(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // Request: PullChunksRequest; responses: ValueChunk.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* PullChunks(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // Requests: PushChunk; response: PushResponse.
  grpc::ServerReadReactor<grpc::ByteBuffer>* PushChunks(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;

 private:
  VariableStore* const store_;
  const TokenTable* const tokens_;
  SessionService sessions_;
  StreamWatchdog watchdog_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_SERVICE_H_
