#ifndef PARAM_SERVER_COMMON_SHARD_PLACE_H_
#define PARAM_SERVER_COMMON_SHARD_PLACE_H_

// Where a parameter server stands in its cluster: its job's name, its index
// among the job's shards and their number (ps_server --job, --shard_index,
// --shard_count). A sharded client states the place it expects of each
// server it lists, and the server refuses calls whose expectation it does
// not meet (server/variable_service.h), so a worker with a list in another
// order, or one server more or less, touches nothing.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramserver {

struct ShardPlace {
  // The job's name; as an expectation, empty accepts any job.
  std::string job;
  int index = 0;  // 0 <= index < count.
  int count = 1;

  // "shard 1 of 3 of job 'demo'" ("shard 0 of 1" without a job).
  std::string ToString() const;

  friend bool operator==(const ShardPlace& a, const ShardPlace& b) {
    return a.job == b.job && a.index == b.index && a.count == b.count;
  }
};

inline constexpr int kMaxShardCount = 4096;

// INVALID_ARGUMENT unless 1 <= count <= kMaxShardCount, 0 <= index < count
// and the job is at most 64 of [A-Za-z0-9._-].
absl::Status ValidateShardPlace(const ShardPlace& place);

// OK when a server at `server` meets the client's `expected` (its job too,
// unless `expected.job` is empty); otherwise FAILED_PRECONDITION saying
// which part differs (another job, another index, a list of another
// length) and what the worker should do.
absl::Status CheckShardPlace(const ShardPlace& server,
                             const ShardPlace& expected);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_SHARD_PLACE_H_
