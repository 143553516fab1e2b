#ifndef PARAM_SERVER_WIRE_CALL_METADATA_H_
#define PARAM_SERVER_WIRE_CALL_METADATA_H_

// What every call of a client carries besides its request: its bearer token
// (wire/bearer_token.h) and the place it expects of the server
// (wire/shard_metadata.h), made once per client.

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/shard_place.h"
#include "wire/bearer_token.h"
#include "wire/shard_metadata.h"

namespace paramserver {

using CallMetadata = std::vector<std::pair<std::string, std::string>>;

// `token` as "authorization: Bearer <token>" (none when empty); `expected`
// as "ps-expected-shard" and, when it names a job, "ps-expected-job".
inline CallMetadata MakeCallMetadata(
    const std::string& token, const std::optional<ShardPlace>& expected) {
  CallMetadata metadata;
  if (!token.empty()) {
    metadata.emplace_back(kAuthorizationMetadataKey, "Bearer " + token);
  }
  if (expected.has_value()) {
    metadata.emplace_back(kExpectedShardMetadataKey,
                          FormatExpectedShard(*expected));
    if (!expected->job.empty()) {
      metadata.emplace_back(kExpectedJobMetadataKey, expected->job);
    }
  }
  return metadata;
}

inline void AddCallMetadata(grpc::ClientContext* context,
                            const CallMetadata& metadata) {
  for (const auto& [key, value] : metadata) context->AddMetadata(key, value);
}

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_CALL_METADATA_H_
