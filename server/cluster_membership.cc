#include "server/cluster_membership.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

std::string ClusterMembership::cluster() const {
  MutexLock lock(&mu_);
  return identity_.cluster;
}

absl::StatusOr<std::string> ClusterMembership::Join(absl::string_view cluster) {
  if (cluster.size() > 64 ||
      !std::all_of(cluster.begin(), cluster.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
               c == '-';
      })) {
    return absl::InvalidArgumentError(
        "A cluster id is at most 64 of [A-Za-z0-9_-].");
  }
  MutexLock lock(&mu_);
  if (cluster.empty() || identity_.cluster == cluster) {
    return identity_.cluster;
  }
  if (!identity_.cluster.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "This server belongs to cluster ", identity_.cluster, ", not ", cluster,
        ": it is a shard of another deployment of the job."));
  }
  if (!data_dir_.empty()) {
    DataDirIdentity joined = identity_;
    joined.cluster = std::string(cluster);
    if (absl::Status s = WriteDataDirIdentity(data_dir_, joined); !s.ok()) {
      return s;
    }
  }
  identity_.cluster = std::string(cluster);
  return identity_.cluster;
}

}  // namespace paramserver
