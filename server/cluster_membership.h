#ifndef PARAM_SERVER_SERVER_CLUSTER_MEMBERSHIP_H_
#define PARAM_SERVER_SERVER_CLUSTER_MEMBERSHIP_H_

// The cluster a shard belongs to: a random id that the first worker to see
// a new job's shards gives all of them (ShardedClient::CheckCluster), kept
// in the data directory's IDENTITY. A shard that comes back without it (its
// volume lost, yet started with --initialize_data_dir, as a container's
// first start must be) stands out among shards that have it, and workers
// refuse it until an operator accepts it (psctl join).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "server/durability/data_dir_identity.h"

namespace paramserver {

// Thread-safe.
class ClusterMembership {
 public:
  // `data_dir` empty: the membership lives in memory only (it is lost with
  // the variables on restart, as it should be).
  ClusterMembership(std::string data_dir, DataDirIdentity identity)
      : data_dir_(std::move(data_dir)), identity_(std::move(identity)) {}

  std::string cluster() const ABSL_LOCKS_EXCLUDED(mu_);

  // Joins `cluster` when this shard belongs to none yet (recording it in
  // IDENTITY first) and returns it; returns the shard's cluster when it
  // already belongs to `cluster` or `cluster` is empty. FAILED_PRECONDITION
  // naming both when it belongs to another; INVALID_ARGUMENT for an id that
  // is not 1-64 of [A-Za-z0-9_-].
  absl::StatusOr<std::string> Join(absl::string_view cluster)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string data_dir_;
  mutable Mutex mu_;
  DataDirIdentity identity_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_CLUSTER_MEMBERSHIP_H_
