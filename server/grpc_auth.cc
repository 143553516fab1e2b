#include "server/grpc_auth.h"

#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "wire/bearer_token.h"
#include "wire/shard_metadata.h"

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

namespace {

// The single value of metadata `key`, null when absent; INVALID_ARGUMENT
// when sent twice.
absl::StatusOr<std::optional<absl::string_view>> SingleValue(
    const grpc::ServerContextBase& context, absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto [it, end] =
      metadata.equal_range(grpc::string_ref(key.data(), key.size()));
  if (it == end) return std::nullopt;
  if (std::next(it) != end) {
    return absl::InvalidArgumentError(
        absl::StrCat("More than one ", key, " header; send at most one."));
  }
  return absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<std::optional<ShardPlace>> ExpectedPlace(
    const grpc::ServerContextBase& context) {
  absl::StatusOr<std::optional<absl::string_view>> shard =
      SingleValue(context, kExpectedShardMetadataKey);
  if (!shard.ok()) return shard.status();
  absl::StatusOr<std::optional<absl::string_view>> job =
      SingleValue(context, kExpectedJobMetadataKey);
  if (!job.ok()) return job.status();
  return ParseExpectedPlace(*shard, *job);
}

}  // namespace

Caller AuthenticateCall(const TokenTable* tokens,
                        const grpc::ServerContextBase& context) {
  Caller caller = tokens == nullptr
                      ? Caller()
                      : Caller(*tokens, BearerToken(context), context.peer());
  caller.set_expected_place(ExpectedPlace(context));
  return caller;
}

}  // namespace paramserver
