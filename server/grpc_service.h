#ifndef PARAM_SERVER_SERVER_GRPC_SERVICE_H_
#define PARAM_SERVER_SERVER_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/grpc_session.h"
#include "server/push_buffer_pool.h"
#include "server/stream_watchdog.h"
#include "server/variable_service.h"
#include "server/variable_store.h"

namespace paramserver {

// Every method is registered raw, so that each parses its own request and
// answers bytes that do not parse with INVALID_ARGUMENT
// (server/grpc_raw_call.h). Pull and PullChunks also encode their responses
// by hand (server/grpc_zero_copy.h) so tensor bytes go to gRPC without a
// copy; PushChunks copies chunk bytes from gRPC's slices straight into the
// update's value.
using ParameterServerBase = rpc::ParameterServer::WithRawCallbackMethod_GetTable<
    rpc::ParameterServer::WithRawCallbackMethod_GetTableStats<rpc::ParameterServer::WithRawCallbackMethod_GatherRows<
        rpc::ParameterServer::WithRawCallbackMethod_JoinCluster<
            rpc::ParameterServer::WithRawCallbackMethod_GetServerInfo<
                rpc::ParameterServer::WithRawCallbackMethod_GetVariable<
                    rpc::ParameterServer::WithRawCallbackMethod_ReadVariable<
                        rpc::ParameterServer::WithRawCallbackMethod_ListVariables<
                            rpc::ParameterServer::WithRawCallbackMethod_DeleteVariables<
                                rpc::ParameterServer::WithRawCallbackMethod_Pull<
                                    rpc::ParameterServer::WithRawCallbackMethod_PullChunks<
                                        rpc::ParameterServer::WithRawCallbackMethod_Push<
                                            rpc::ParameterServer::WithRawCallbackMethod_PushChunks<
                                                rpc::ParameterServer::WithRawCallbackMethod_PushRows<
                                                    rpc::ParameterServer::
                                                        WithRawCallbackMethod_LookupSparse<
                                                            rpc::ParameterServer::
                                                                Service>>>>>>>>>>>>>>>;

// The gRPC face of a VariableStore: converts messages and statuses, nothing
// more. Each method authenticates its call against `tokens`
// (server/grpc_auth.h; null `tokens` turns authentication off), refuses a
// caller without a known token before parsing, and hands the request to
// VariableService (server/variable_service.h), which checks access and
// holds the semantics with the store. Chunk streams that make no progress for
// `stream_idle_limit`, or move fewer than `stream_min_bytes_per_second` past
// it, are cancelled (StreamWatchdog). PushChunks streams gather values in
// buffers kept between pushes, up to `push_buffer_pool_bytes`
// (server/push_buffer_pool.h). Thread-safe; `store`
// and `tokens` must outlive the service.
class ParameterServerService final : public ParameterServerBase {
 public:
  explicit ParameterServerService(
      VariableStore* store, const TokenTable* tokens = nullptr,
      absl::Duration stream_idle_limit = absl::InfiniteDuration(),
      int64_t stream_min_bytes_per_second = 0, ServerIdentity identity = {},
      int64_t push_buffer_pool_bytes = kDefaultPushBufferPoolBytes)
      : service_(store, std::move(identity)),
        tokens_(tokens),
        sessions_(&service_, tokens),
        watchdog_(stream_idle_limit, stream_min_bytes_per_second),
        push_buffers_(push_buffer_pool_bytes) {}

  const ServerIdentity& identity() const { return service_.identity(); }

  // The companion service, to be registered on the same server.
  SessionService* sessions() { return &sessions_; }
  const SessionService& sessions() const { return sessions_; }

  // Each request and response below is the message the method's name says,
  // serialized.
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* JoinCluster(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetTable(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetTableStats(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetVariable(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReadVariable(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListVariables(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteVariables(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GatherRows(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Request: PullChunksRequest; responses: ValueChunk.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* PullChunks(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // Response: GatherRowsResponse, encoded as GatherRows's.
  grpc::ServerUnaryReactor* LookupSparse(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PushRows(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  // Requests: PushChunk; response: PushResponse.
  grpc::ServerReadReactor<grpc::ByteBuffer>* PushChunks(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;

 private:
  VariableService service_;  // Before sessions_, which uses it.
  const TokenTable* const tokens_;
  SessionService sessions_;
  StreamWatchdog watchdog_;
  PushBufferPool push_buffers_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_SERVICE_H_
