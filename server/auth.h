#ifndef PARAM_SERVER_SERVER_AUTH_H_
#define PARAM_SERVER_SERVER_AUTH_H_

// Token authentication and role-based authorization, in plain C++ (no gRPC
// types): server/grpc_auth.h takes the token from a call's metadata.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace paramserver {

// Each role may do everything the ones before it may.
enum class Role { kReader = 0, kWriter = 1, kAdmin = 2 };

// What a call does; each needs a least role (see RequiredRole).
enum class Action {
  kRead,  // Pull, PullChunks, ReadVariable, ListVariables, GetVariable(REUSE).
  kCreate,  // GetVariable that may create (CREATE, AUTO_REUSE).
  kWrite,   // Push, PushChunks.
  kDelete,  // DeleteVariables.
  kSave,    // ParameterServerAdmin.Save.
};

// "reader", "writer", "admin".
absl::string_view RoleName(Role role);
// "read", "create", "push", "delete", "save".
absl::string_view ActionName(Action action);
Role RequiredRole(Action action);

// The tokens a server accepts. Immutable after Parse, so thread-safe.
//
// Text format, one token per line; blank lines and lines starting with '#'
// are ignored; fields are separated by spaces or tabs:
//
//   TOKEN ROLE [PREFIX,PREFIX...]
//
// ROLE is reader, writer or admin. Without prefixes the token reaches every
// variable; with them, only names under one of the prefixes by whole path
// components ("tower0" covers "tower0/w" but not "tower1/w" or "tower01/w").
class TokenTable {
 public:
  // INVALID_ARGUMENT, naming the line, for a malformed line, an unknown role,
  // an invalid prefix or a duplicate token. The message never holds a token.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);

  // OK when `token` is known, its role allows `action`, and each of `names`
  // lies under one of its prefixes. A name of "" stands for the whole store
  // (list everything, delete every scope, save): only tokens without prefixes
  // reach it. UNAUTHENTICATED for an empty or unknown token; PERMISSION_DENIED
  // naming the missing role or the prefixes the token is limited to. Tokens
  // are compared in constant time and never appear in a message.
  absl::Status Authorize(absl::string_view token, Action action,
                         absl::Span<const std::string> names) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string token;
    Role role;
    std::vector<std::string> prefixes;  // Empty: every name.
  };

  // The entry whose token equals `token`, or null; the time taken depends on
  // the table's tokens and the token's length only, not on its contents.
  const Entry* Find(absl::string_view token) const;

  std::vector<Entry> entries_;
};

// Equality that takes the same time wherever the strings first differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_AUTH_H_
