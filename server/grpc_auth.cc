#include "server/grpc_auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "server/logging.h"

namespace paramserver {

std::string BearerToken(const grpc::ServerContextBase& context) {
  constexpr absl::string_view kScheme = "bearer ";
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kScheme)) return "";
  value.remove_prefix(kScheme.size());
  return std::string(absl::StripAsciiWhitespace(value));
}

absl::Status CheckAccess(const TokenTable* tokens,
                         const grpc::ServerContextBase& context, Action action,
                         absl::Span<const std::string> names) {
  if (tokens == nullptr) return absl::OkStatus();
  absl::Status status = tokens->Authorize(BearerToken(context), action, names);
  if (!status.ok()) {
    Log(LogLevel::kDebug, "Denied ", ActionName(action), " from ",
        context.peer(), ": ", status.message());
  }
  return status;
}

}  // namespace paramserver
