#ifndef PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
#define PARAM_SERVER_SERVER_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/durability/durability.h"

namespace paramserver {

// Operator calls: Save writes a checkpoint. `durability` may be null (a
// server without a data directory). Save needs an admin token without scope
// prefixes when `tokens` is non-null. Registered raw, as every method is
// (server/grpc_raw_call.h). Thread-safe.
class AdminService final
    : public rpc::ParameterServerAdmin::WithRawCallbackMethod_Save<
          rpc::ParameterServerAdmin::Service> {
 public:
  explicit AdminService(Durability* durability,
                        const TokenTable* tokens = nullptr)
      : durability_(durability), tokens_(tokens) {}

  // Request: SaveRequest; response: SaveResponse.
  grpc::ServerUnaryReactor* Save(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

 private:
  Durability* const durability_;
  const TokenTable* const tokens_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
