#include "wire/shard_metadata.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace paramserver {

std::string FormatExpectedShard(const ShardPlace& place) {
  return absl::StrCat(place.index, "/", place.count);
}

absl::StatusOr<std::optional<ShardPlace>> ParseExpectedPlace(
    std::optional<absl::string_view> shard,
    std::optional<absl::string_view> job) {
  if (!shard.has_value()) {
    if (job.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kExpectedJobMetadataKey, " needs ", kExpectedShardMetadataKey, "."));
    }
    return std::nullopt;
  }
  ShardPlace place;
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(*shard, absl::MaxSplits('/', 1));
  if (!absl::SimpleAtoi(parts.first, &place.index) ||
      !absl::SimpleAtoi(parts.second, &place.count)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kExpectedShardMetadataKey, " must be INDEX/COUNT; got '",
                     *shard, "'."));
  }
  if (job.has_value()) place.job = std::string(*job);
  if (absl::Status s = ValidateShardPlace(place); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The expected place in the call's metadata: ", s.message()));
  }
  return place;
}

}  // namespace paramserver
