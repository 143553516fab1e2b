#include "common/shard_place.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

std::string ShardPlace::ToString() const {
  std::string text = absl::StrCat("shard ", index, " of ", count);
  if (!job.empty()) absl::StrAppend(&text, " of job '", job, "'");
  return text;
}

absl::Status ValidateShardPlace(const ShardPlace& place) {
  if (place.count < 1 || place.count > kMaxShardCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("The shard count must be between 1 and ", kMaxShardCount,
                     "; got ", place.count, "."));
  }
  if (place.index < 0 || place.index >= place.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("The shard index must be between 0 and ", place.count - 1,
                     " for ", place.count, " shards; got ", place.index, "."));
  }
  if (place.job.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A job name has at most 64 characters; got ", place.job.size(), "."));
  }
  for (char c : place.job) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("A job name may hold only letters, digits, '.', '_' "
                       "and '-'; got '",
                       place.job, "'."));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckShardPlace(const ShardPlace& server,
                             const ShardPlace& expected) {
  constexpr absl::string_view kAdvice =
      " Every worker must list the job's servers, all of them and in the "
      "order of their --shard_index, in the same --servers list.";
  if (!expected.job.empty() && expected.job != server.job) {
    return absl::FailedPreconditionError(absl::StrCat(
        "This server is ", server.ToString(), ", not a server of job '",
        expected.job, "' as the client expects.", kAdvice));
  }
  if (expected.count != server.count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "This server is ", server.ToString(), ", but the client lists ",
        expected.count, expected.count == 1 ? " server" : " servers",
        " (and this one as shard ", expected.index, ").", kAdvice));
  }
  if (expected.index != server.index) {
    return absl::FailedPreconditionError(
        absl::StrCat("This server is ", server.ToString(),
                     ", but the client lists it as shard ", expected.index,
                     " of ", expected.count, ".", kAdvice));
  }
  return absl::OkStatus();
}

}  // namespace paramserver
