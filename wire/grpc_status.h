#ifndef PARAM_SERVER_WIRE_GRPC_STATUS_H_
#define PARAM_SERVER_WIRE_GRPC_STATUS_H_

// absl::Status and grpc::Status share their codes one for one, so crossing
// the RPC boundary is a cast.

#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace paramserver {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_GRPC_STATUS_H_
