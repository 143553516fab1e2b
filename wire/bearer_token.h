#ifndef PARAM_SERVER_WIRE_BEARER_TOKEN_H_
#define PARAM_SERVER_WIRE_BEARER_TOKEN_H_

// How a call carries its token: one "authorization: Bearer <token>"
// metadata entry (server/grpc_auth.h reads it).

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/string_view.h"

namespace paramserver {

inline constexpr char kAuthorizationMetadataKey[] = "authorization";

// Adds "authorization: Bearer <token>" to `context` when `token` is
// non-empty; nothing for an empty token.
inline void AddBearerToken(grpc::ClientContext* context,
                           absl::string_view token) {
  if (token.empty()) return;
  context->AddMetadata(kAuthorizationMetadataKey,
                       "Bearer " + std::string(token));
}

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_BEARER_TOKEN_H_
