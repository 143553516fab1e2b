#ifndef PARAM_SERVER_SERVER_GRPC_RAW_CALL_H_
#define PARAM_SERVER_SERVER_GRPC_RAW_CALL_H_

// Every method of the services is registered raw (ByteBuffer in, ByteBuffer
// out) and parses its own request. gRPC 1.51's generated handlers answer a
// request that does not parse with UNIMPLEMENTED and no message, which sends
// an operator looking for a missing method; parsed here, it is
// INVALID_ARGUMENT "Malformed paramserver.rpc.<Request>." on every method.

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "server/auth.h"
#include "server/caller.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {

// Checks that the caller has a known token (any role) before parsing, so
// that an unauthenticated caller learns nothing from parse errors; then
// parses `raw_request` as a Request, runs handle(request, &response) (which
// checks the role and names itself) and serializes the response into
// `raw_response`. Returns the first error.
template <typename Request, typename Response, typename Handle>
absl::Status ServeRaw(const Caller& caller, const grpc::ByteBuffer& raw_request,
                      grpc::ByteBuffer* raw_response, Handle handle) {
  if (absl::Status s = caller.Authorize(Action::kRead, {}); !s.ok()) {
    return s;
  }
  Request request;
  if (absl::Status s = ParseRequest(raw_request, &request); !s.ok()) return s;
  Response response;
  if (absl::Status s = handle(request, &response); !s.ok()) return s;
  return SerializeMessage(response, raw_response);
}

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_RAW_CALL_H_
