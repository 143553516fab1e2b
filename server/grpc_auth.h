#ifndef PARAM_SERVER_SERVER_GRPC_AUTH_H_
#define PARAM_SERVER_SERVER_GRPC_AUTH_H_

// The gRPC side of server/caller.h: every adapter authenticates its call
// once, and the handlers authorize each action against the Caller.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "server/auth.h"
#include "server/caller.h"

namespace paramserver {

// The token of an "authorization: Bearer <token>" metadata entry; "" when
// there is none (or it is not a bearer token). UNAUTHENTICATED when the call
// carries more than one authorization entry: which one a proxy or a library
// honours differs, so none is.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context);

// The call's Caller: authentication off when `tokens` is null (the token is
// not read then); otherwise its BearerToken, checked against `tokens`
// (which must outlive the Caller), with the peer for logs. Either way, with
// the place the call expects of this server (wire/shard_metadata.h).
Caller AuthenticateCall(const TokenTable* tokens,
                        const grpc::ServerContextBase& context);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_AUTH_H_
