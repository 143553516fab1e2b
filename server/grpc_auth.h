#ifndef PARAM_SERVER_SERVER_GRPC_AUTH_H_
#define PARAM_SERVER_SERVER_GRPC_AUTH_H_

// The gRPC side of server/auth.h: every handler calls CheckAccess first.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/auth.h"

namespace paramserver {

// The token of an "authorization: Bearer <token>" metadata entry; "" when
// there is none (or it is not a bearer token). UNAUTHENTICATED when the call
// carries more than one authorization entry: which one a proxy or a library
// honours differs, so none is.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context);

// OK when `tokens` is null (authentication off); otherwise
// tokens->Authorize(BearerToken(context), action, names). Denials are
// logged at debug level with the peer, never with the token.
absl::Status CheckAccess(const TokenTable* tokens,
                         const grpc::ServerContextBase& context, Action action,
                         absl::Span<const std::string> names);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_AUTH_H_
