#ifndef PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
#define PARAM_SERVER_SERVER_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/durability.h"

namespace paramserver {

// Operator calls: Save writes a checkpoint. `durability` may be null (a
// server without a data directory). Thread-safe.
class AdminService final : public rpc::ParameterServerAdmin::CallbackService {
 public:
  explicit AdminService(Durability* durability) : durability_(durability) {}

  grpc::ServerUnaryReactor* Save(grpc::CallbackServerContext* context,
                                 const rpc::SaveRequest* request,
                                 rpc::SaveResponse* response) override;

 private:
  Durability* const durability_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_ADMIN_SERVICE_H_
