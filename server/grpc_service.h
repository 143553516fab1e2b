#ifndef PARAM_SERVER_SERVER_GRPC_SERVICE_H_
#define PARAM_SERVER_SERVER_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/variable_store.h"

namespace paramserver {

// The gRPC face of a VariableStore: converts messages and statuses, nothing
// more. All semantics live in the store. Thread-safe; `store` must outlive
// the service.
class ParameterServerService final
    : public rpc::ParameterServer::CallbackService {
 public:
  explicit ParameterServerService(VariableStore* store) : store_(store) {}

  grpc::ServerUnaryReactor* GetVariable(
      grpc::CallbackServerContext* context,
      const rpc::GetVariableRequest* request,
      rpc::GetVariableResponse* response) override;
  grpc::ServerUnaryReactor* ReadVariable(
      grpc::CallbackServerContext* context,
      const rpc::ReadVariableRequest* request,
      rpc::ReadVariableResponse* response) override;
  grpc::ServerUnaryReactor* ListVariables(
      grpc::CallbackServerContext* context,
      const rpc::ListVariablesRequest* request,
      rpc::ListVariablesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteVariables(
      grpc::CallbackServerContext* context,
      const rpc::DeleteVariablesRequest* request,
      rpc::DeleteVariablesResponse* response) override;
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const rpc::PullRequest* request,
                                 rpc::PullResponse* response) override;
  grpc::ServerWriteReactor<rpc::ValueChunk>* PullChunks(
      grpc::CallbackServerContext* context,
      const rpc::PullChunksRequest* request) override;
  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const rpc::PushRequest* request,
                                 rpc::PushResponse* response) override;
  grpc::ServerReadReactor<rpc::PushChunk>* PushChunks(
      grpc::CallbackServerContext* context,
      rpc::PushResponse* response) override;

 private:
  VariableStore* const store_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_SERVICE_H_
