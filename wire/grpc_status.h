#ifndef PARAM_SERVER_WIRE_GRPC_STATUS_H_
#define PARAM_SERVER_WIRE_GRPC_STATUS_H_

// absl::Status and grpc::Status share their codes one for one, so crossing
// the RPC boundary is a cast. Every conversion between a status and a gRPC
// status, or the code and message fields of a message, goes through here.

#include <grpcpp/grpcpp.h>

#include <string>

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

// Writes `status` into a message that carries a call's status in fields
// (SessionResponse): `code`, a grpc::StatusCode's number (0 is OK), and
// `message`.
template <typename Message>
void SetStatusFields(const absl::Status& status, Message* message) {
  message->set_code(static_cast<int>(ToGrpcStatus(status).error_code()));
  message->set_message(std::string(status.message()));
}

// The status such a message carries.
template <typename Message>
absl::Status StatusFromFields(const Message& message) {
  return FromGrpcStatus(grpc::Status(
      static_cast<grpc::StatusCode>(message.code()), message.message()));
}

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_GRPC_STATUS_H_
