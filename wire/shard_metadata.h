#ifndef PARAM_SERVER_WIRE_SHARD_METADATA_H_
#define PARAM_SERVER_WIRE_SHARD_METADATA_H_

// How a call states the place it expects of its server
// (proto/parameter_server.proto, "The cluster"): "ps-expected-shard:
// INDEX/COUNT" and, when the client names a job, "ps-expected-job: JOB".

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/shard_place.h"

namespace paramserver {

inline constexpr char kExpectedShardMetadataKey[] = "ps-expected-shard";
inline constexpr char kExpectedJobMetadataKey[] = "ps-expected-job";

// "INDEX/COUNT".
std::string FormatExpectedShard(const ShardPlace& place);

// The expectation the two metadata values state (null: not sent). No shard
// value means no expectation (a job alone is INVALID_ARGUMENT, as is a
// value that does not parse or names an impossible place).
absl::StatusOr<std::optional<ShardPlace>> ParseExpectedPlace(
    std::optional<absl::string_view> shard,
    std::optional<absl::string_view> job);

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_SHARD_METADATA_H_
