#ifndef PARAM_SERVER_SERVER_CALLER_H_
#define PARAM_SERVER_SERVER_CALLER_H_

// Who makes a call, as far as authorization cares, in plain C++ (no gRPC
// types): the adapter authenticates a call once (server/grpc_auth.h) and the
// handlers (server/variable_service.h) check each action against the result.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/shard_place.h"
#include "server/auth.h"

namespace paramserver {

// A call's credentials: the token it presented, checked against a
// TokenTable on each Authorize. Immutable, so thread-safe; cheap to copy.
class Caller {
 public:
  // Authentication off: every action is allowed.
  Caller() = default;

  // A call checked against `tokens`, which must outlive the Caller. `token`
  // is the bearer token the call presented ("" for none), or why it has
  // none usable (UNAUTHENTICATED, e.g. two authorization headers), which
  // every Authorize then returns. `peer` names the caller in logs.
  Caller(const TokenTable& tokens, absl::StatusOr<std::string> token,
         std::string peer)
      : tokens_(&tokens), token_(std::move(token)), peer_(std::move(peer)) {}

  // OK when authentication is off; otherwise the token's error, or
  // TokenTable::Authorize(token, action, names). Denials are logged at debug
  // level with the peer, never with the token.
  absl::Status Authorize(Action action,
                         absl::Span<const std::string> names) const;

  // The place the caller expects of this server (wire/shard_metadata.h):
  // null when it states none, an error when what it sent does not parse.
  // VariableService checks it after Authorize.
  const absl::StatusOr<std::optional<ShardPlace>>& expected_place() const {
    return expected_place_;
  }
  void set_expected_place(absl::StatusOr<std::optional<ShardPlace>> place) {
    expected_place_ = std::move(place);
  }

 private:
  const TokenTable* tokens_ = nullptr;  // Null: authentication off.
  absl::StatusOr<std::string> token_;
  std::string peer_;
  absl::StatusOr<std::optional<ShardPlace>> expected_place_ = std::nullopt;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_CALLER_H_
