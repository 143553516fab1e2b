#ifndef PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
#define PARAM_SERVER_SERVER_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/durability.h"

namespace paramserver {

// Operator calls: Save writes a checkpoint. `durability` may be null (a
// server without a data directory). Save needs an admin token without scope
// prefixes when `tokens` is non-null. Thread-safe.
class AdminService final : public rpc::ParameterServerAdmin::CallbackService {
 public:
  explicit AdminService(Durability* durability,
                        const TokenTable* tokens = nullptr)
      : durability_(durability), tokens_(tokens) {}

  grpc::ServerUnaryReactor* Save(grpc::CallbackServerContext* context,
                                 const rpc::SaveRequest* request,
                                 rpc::SaveResponse* response) override;

 private:
  Durability* const durability_;
  const TokenTable* const tokens_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
