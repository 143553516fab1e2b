#include "server/grpc_auth.h"

#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "wire/bearer_token.h"

namespace paramserver {

absl::StatusOr<std::string> BearerToken(
    const grpc::ServerContextBase& context) {
  constexpr absl::string_view kScheme = "bearer ";
  const auto& metadata = context.client_metadata();
  auto [it, end] = metadata.equal_range(kAuthorizationMetadataKey);
  if (it == end) return "";
  if (std::next(it) != end) {
    return absl::UnauthenticatedError(
        "More than one authorization header; send exactly one.");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kScheme)) return "";
  value.remove_prefix(kScheme.size());
  return std::string(absl::StripAsciiWhitespace(value));
}

Caller AuthenticateCall(const TokenTable* tokens,
                        const grpc::ServerContextBase& context) {
  if (tokens == nullptr) return Caller();
  return Caller(*tokens, BearerToken(context), context.peer());
}

}  // namespace paramserver
