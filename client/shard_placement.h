#ifndef PARAM_SERVER_CLIENT_SHARD_PLACEMENT_H_
#define PARAM_SERVER_CLIENT_SHARD_PLACEMENT_H_

// Where a variable lives among N parameter servers. Every worker computes the
// same placement from the full name alone, without coordination, on any
// machine and build: the functions below are fixed by their definitions, not
// by a library's hash.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace paramserver {

// FNV-1a (64-bit) of the name's bytes, finished with SplitMix64's mixer.
uint64_t NameFingerprint(absl::string_view full_name);

// Lamping and Veach's jump consistent hash: a bucket in [0, num_buckets).
// Growing from N to N+1 buckets moves only about 1/(N+1) of the keys.
int JumpConsistentHash(uint64_t key, int num_buckets);

// JumpConsistentHash of the name's fingerprint.
int ShardForName(absl::string_view full_name, int num_shards);

// The shard (server index) holding the variable `full_name`. An optimizer
// slot ("v/Adam", "v/Momentum", ...) lives where v does, since v's server
// creates it; a partition "x/part_3" lives at ShardForPartition("x", 3);
// every other name at ShardForName. So "emb/part_1/Adam" is on part 1's
// shard.
int ShardForVariable(absl::string_view full_name, int num_shards);

// tf.fixed_size_partitioner along the first axis: min(num_partitions, dim0)
// parts (at least one), the first dim0 % parts of them one row longer.
std::vector<int64_t> PartitionRows(int64_t dim0, int num_partitions);

// "name/part_3", TensorFlow's name for partition 3 of `name`.
std::string PartitionName(absl::string_view full_name, int partition);

// Partition i of `full_name` lives on shard (ShardForName(full_name) + i) % N,
// so the parts of one variable spread over as many servers as they can.
int ShardForPartition(absl::string_view full_name, int partition,
                      int num_shards);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_SHARD_PLACEMENT_H_
