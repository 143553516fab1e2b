#ifndef PARAM_SERVER_SERVER_DURABILITY_DATA_DIR_IDENTITY_H_
#define PARAM_SERVER_SERVER_DURABILITY_DATA_DIR_IDENTITY_H_

// Whose data a data directory holds. On its first start a shard writes
// <data_dir>/IDENTITY (its job, shard index and count, and a random
// incarnation id); later starts check it, so a shard started with another
// index, count or job than its data, or on a directory whose data is gone,
// refuses to serve instead of splitting or silently resetting the model.

#include <string>

#include "absl/status/statusor.h"
#include "common/shard_place.h"

namespace paramserver {

inline constexpr char kIdentityFileName[] = "IDENTITY";

struct DataDirIdentity {
  ShardPlace place;
  // Random, made when the directory's data began; a shard whose incarnation
  // changed has lost what it held (clients compare it: ServerInfo).
  std::string incarnation;
  // The cluster the shard joined (server/cluster_membership.h); "" before.
  std::string cluster;
};

// Rewrites <data_dir>/IDENTITY atomically (to record a joined cluster).
absl::Status WriteDataDirIdentity(const std::string& data_dir,
                                  const DataDirIdentity& identity);

// The identity of `data_dir` for a server started at `place`:
// - IDENTITY present: returned when its place equals `place`, otherwise
//   FAILED_PRECONDITION naming both;
// - no IDENTITY, but checkpoints or a log (a directory from before
//   identities): IDENTITY is written for `place` and returned;
// - no data at all (the directory is missing or holds nothing of ours):
//   with `initialize`, the directory is created with a new IDENTITY;
//   without, FAILED_PRECONDITION: a shard that served before would have
//   lost its data, and the operator must say that starting empty is meant.
// I/O errors as file_util.h maps them; INVALID_ARGUMENT for an IDENTITY
// that does not parse.
absl::StatusOr<DataDirIdentity> ClaimDataDir(const std::string& data_dir,
                                             const ShardPlace& place,
                                             bool initialize);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_DATA_DIR_IDENTITY_H_
